"""The Zoho CRM REST v8 backend, top down: :mod:`.gateway` (``ZohoRestGateway``, the
reads and writes in domain models), :mod:`.sync` (the bulk sync plan) and
:mod:`.writes` (the three writes), both over :mod:`.api` (the authenticated transport:
token refresh, paging, COQL, single-record writes).
"""
