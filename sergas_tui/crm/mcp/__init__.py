"""Our Zoho MCP server and its client.

:mod:`.server` serves the seed's tool catalog over any CRM backend, every write behind the
approval gate; :mod:`.client` is ``McpGateway``, a CRM backend over an MCP session
(:mod:`.session`: its transports). Both speak the catalog of :mod:`.tools` and the results and
errors of :mod:`.wire`, and never import each other (an import contract). Zoho's own hosted MCP
server is reached by :mod:`sergas_tui.crm.zoho_mcp`.
"""
