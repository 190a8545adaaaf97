"""The central PostgreSQL of the audit and of team mode.

The audit outbox's exactly-once sync (:mod:`.sync`), its status read from the local database
alone (:mod:`.status`, without psycopg), the local chain checked against the central copy
(:mod:`.verify`) and retention (:mod:`.purge`); under them, connections and their errors
(:mod:`.conn`), the schema's migrations (:mod:`.schema`), what PostgreSQL cannot store
(:mod:`.text`) and the base of team mode's table stores (:mod:`.store`): approval grants
(:mod:`.grants`), the team's approvals (:mod:`.records`) and its people (:mod:`.people`).
"""
