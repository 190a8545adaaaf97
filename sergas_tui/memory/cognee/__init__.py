"""The Cognee memory backend (the ``sergas[cognee]`` extra).

:mod:`.backend` is ``CogneeMemory``; :mod:`.points` the graph's nodes and edges; :mod:`.mirror`
runs the local memory's rules on a scratch copy; :mod:`.stores` opens Cognee's graph and vector
stores, set up by :mod:`.setup`; :mod:`.embed` holds the embedders and their pin; :mod:`.files`
compacts a data dir on disk. Cognee itself is imported on first use, never by importing this
package.
"""
