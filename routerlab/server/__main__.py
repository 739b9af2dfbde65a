"""``python -m routerlab.server``: run the local provider server (the same as ``routerlab serve``)."""

import sys

from .serve import serve_main

sys.exit(serve_main())
