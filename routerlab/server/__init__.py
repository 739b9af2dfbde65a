"""A local HTTP server that speaks the OpenAI, Anthropic and Groq wire formats, with injected faults.

The unmodified official SDKs talk to it. It answers from recorded outcomes (or echoes), sleeps each
model's catalog latency profile (× ``latency_scale``), and injects faults per deployment on a schedule.

**Deployments are addressed by path prefix** on one port (``/d/<name>``), so one server hosts P1, P2, P3:

============  ===============================================  ==========================================
SDK           ``base_url``                                     path the SDK calls
============  ===============================================  ==========================================
openai        ``http://127.0.0.1:PORT/d/P1/v1``                ``/d/P1/v1/chat/completions``
anthropic     ``http://127.0.0.1:PORT/d/P1``                   ``/d/P1/v1/messages``
groq          ``http://127.0.0.1:PORT/d/P1``                   ``/d/P1/openai/v1/chat/completions``
============  ===============================================  ==========================================

``srv.base_url("P1", "anthropic")`` builds these. Paths without ``/d/<name>`` go to the first deployment.

Example::

    >>> from routerlab.server import ProviderServer, Window
    >>> with ProviderServer(["P1", "P2"], latency_scale=0) as srv:          # doctest: +SKIP
    ...     srv.set_faults("P1", status=429, retry_after=7)                # every call: 429, Retry-After 7
    ...     srv.set_faults("P2", windows=[Window(0, 30, status=503)])      # an outage for the first 30 s
    ...     client = openai.OpenAI(base_url=srv.base_url("P2"), api_key="x", max_retries=0)
    ...     srv.log("P1")                                                  # plain dicts, one per request

Run it alone with ``python -m routerlab.server --port 8000 --fault P1:status=500,start=0,end=30``
(or ``routerlab serve``); ``GET /_admin/log/P1`` and ``POST /_admin/faults/P1`` drive it from outside with
the admin token it prints at start-up (``Authorization: Bearer <token>``; in-process: ``srv.admin_headers``).
It binds 127.0.0.1 only, refuses a foreign ``Host`` or browser ``Origin`` (403), bodies over ``max_body``
(413, read in bounded memory) and malformed ``Content-Length`` (400): see :mod:`routerlab.server.guard`.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
