"""Our Zoho MCP server and its client: :mod:`.server` (the seed's tool catalog over any
CRM backend, writes behind the approval gate), :mod:`.client` (``McpGateway``, a CRM
backend over an MCP session) and :mod:`.session` (its transports), sharing the catalog
(:mod:`.tools`) and how results and errors travel (:mod:`.wire`).
"""
