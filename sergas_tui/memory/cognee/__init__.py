"""The Cognee memory backend (the ``sergas[cognee]`` extra): :mod:`.backend`
(``CogneeMemory``), the graph's nodes and edges (:mod:`.points`), the local memory's
rules run on a scratch copy (:mod:`.mirror`), Cognee's stores and its set-up
(:mod:`.stores`, :mod:`.setup`), embedders and their pin (:mod:`.embed`) and compacting
a data dir on disk (:mod:`.files`). Cognee itself is imported on first use only.
"""
