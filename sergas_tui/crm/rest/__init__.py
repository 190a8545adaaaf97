"""The Zoho CRM REST v8 backend.

Top down: :mod:`.gateway` (``ZohoRestGateway``: the reads and writes, in domain models), then
:mod:`.sync` (the bulk sync plan) and :mod:`.writes` (the three writes), both over :mod:`.api`
(the authenticated transport: token refresh, paging, COQL, single-record writes). An import
contract keeps that order.
"""
