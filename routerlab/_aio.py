"""Run a coroutine from synchronous code, also inside Jupyter's already-running event loop.

``asyncio.run`` refuses to start inside a running loop, and async SDK clients are bound to the loop
that first used them, so inside a running loop the coroutine runs on a dedicated worker thread that
owns one long-lived loop (the same loop every time: clients created there stay usable).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["run_sync"]

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _worker_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="routerlab-loop", daemon=True).start()
            _loop = loop
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the worker loop and return its result.

    Always the same loop, whether or not one is running in this thread, so async clients created
    by earlier calls stay usable.
    """
    future = asyncio.run_coroutine_threadsafe(coro, _worker_loop())
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()
        raise
