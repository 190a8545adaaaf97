"""The central PostgreSQL of the audit and of team mode: the audit outbox's sync
(:mod:`.sync`), its status read locally (:mod:`.status`), verification against the
local chain (:mod:`.verify`) and retention (:mod:`.purge`); connections and errors
(:mod:`.conn`), the schema's migrations (:mod:`.schema`), the shared table store
(:mod:`.store`) and team mode's tables: approval grants (:mod:`.grants`), the team's
approvals (:mod:`.records`) and people (:mod:`.people`). PostgreSQL's text limits:
:mod:`.text`.
"""
