"""``python bench/queue.py``: the daily-queue benchmark (the code is in ``queue_report.py``).

Scripts in ``bench/`` run with this folder first on the import path, where this file's name
hides the standard library's ``queue``. So when something imports ``queue`` (asyncio, keyring
and others do), this module replaces itself with the standard library's.
"""

import os
import sys

if __name__ == "__main__":
    from queue_report import main

    sys.exit(main())
else:
    import importlib

    _here = os.path.dirname(os.path.abspath(__file__))
    _saved = sys.path[:]
    del sys.modules[__name__]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    try:
        sys.modules[__name__] = importlib.import_module(__name__)
    finally:
        sys.path[:] = _saved
    globals().update(vars(sys.modules[__name__]))
