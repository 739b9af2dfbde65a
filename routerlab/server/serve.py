"""``routerlab serve``: the local provider server's command line (flags, ``--fault`` specs, start-up).

Every flag is checked before the server binds: a bad value is one line on stderr and exit code 2
(:mod:`routerlab._args`), a fault window that could never be active or a malformed ``--api-key-env``
included.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .._args import ArgumentParser, names, non_negative_float, port, seed
from ..errors import ConfigError
from .app import _FAULT_FIELDS, Answers, ProviderServer, answers_from_dataset
from .guard import DEFAULT_MAX_BODY

__all__ = ["serve_main", "parse_fault", "ADMIN_TOKEN_ENV"]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_fault(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse a ``--fault`` flag: ``DEPLOYMENT:field=value,...``; ``start``/``end`` make it a window.

    Example::

        >>> parse_fault("P1:status=429,retry_after=7")
        ('P1', {'status': 429, 'retry_after': 7})
        >>> parse_fault("P2:status=503,start=0,end=30")
        ('P2', {'windows': [{'start': 0, 'end': 30, 'status': 503}]})
    """
    dep, sep, rest = spec.partition(":")
    if not sep or not dep:
        raise ConfigError(f"--fault {spec!r}: expected DEPLOYMENT:field=value[,field=value...]")
    fields: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        key, eq, val = part.partition("=")
        if not eq:
            raise ConfigError(f"--fault {spec!r}: {part!r} is not field=value")
        fields[key.strip()] = _value(val.strip())
    unknown = set(fields) - _FAULT_FIELDS - {"start", "end"}
    if unknown:
        raise ConfigError(f"--fault {spec!r}: unknown fields {sorted(unknown)}; known: {sorted(_FAULT_FIELDS)}")
    if "start" in fields or "end" in fields:
        window = {"start": fields.pop("start", 0), "end": fields.pop("end", float("inf")), **fields}
        return dep, {"windows": [window]}
    return dep, fields


ADMIN_TOKEN_ENV = "ROUTERLAB_ADMIN_TOKEN"


def _serve_parser() -> ArgumentParser:
    ap = ArgumentParser(
        prog="routerlab serve", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the local provider server on 127.0.0.1 until interrupted (Ctrl-C). It speaks the OpenAI, "
                    "Anthropic and Groq wire formats, so the official SDKs (and the Gateway) reach it with a "
                    "base_url, and it injects faults on request. P1, P2, P3 are the default deployment names: three "
                    "independent endpoints of one server, each with its own faults and request log, as the three "
                    "provider deployments of RELIABILITY.md's scenarios. Prints one JSON line with the URL (and the "
                    "admin token it made up) once it listens.",
        epilog="base URLs: openai http://127.0.0.1:PORT/d/P1/v1, anthropic and groq http://127.0.0.1:PORT/d/P1\n"
               f"fault fields: {', '.join(sorted(_FAULT_FIELDS))} (+ start, end for a time window)\n"
               "admin: GET /_admin/log/P1, GET|POST /_admin/faults/P1 (JSON; \"merge\": true keeps other fields), "
               "POST /_admin/reset; each needs 'Authorization: Bearer TOKEN' (the admin_token printed at start, "
               f"--admin-token, or ${ADMIN_TOKEN_ENV})\n"
               "the server binds 127.0.0.1 only and answers 403 to a foreign Host or a browser's foreign Origin\n\n"
               "example:\n  routerlab serve --port 8000 --dataset zeroeval --fault P1:status=429,retry_after=7")
    ap.add_argument("--port", type=port, default=8000, help="port on 127.0.0.1 (default: 8000; 0: any free port)")
    ap.add_argument("--deployments", type=names("P1,P2,P3"), default=["P1", "P2", "P3"],
                    help="comma-separated deployment names, each its own endpoint /d/NAME with its own faults and "
                         "log (default: P1,P2,P3)")
    ap.add_argument("--latency-scale", type=non_negative_float, default=1.0,
                    help="multiply the catalog's simulated latency by this (default: 1.0; 0: answer at once)")
    ap.add_argument("--seed", type=seed, default=0,
                    help="seed of the simulated latencies and of random faults (error_rate), so runs repeat "
                         "(default: 0)")
    ap.add_argument("--fault", action="append", default=[], metavar="DEP:FIELD=VALUE,...",
                    help="inject a fault (repeatable); start=/end= make it a time window; DEP may be '*'")
    ap.add_argument("--api-key-env", action="append", default=[], metavar="DEP=VARIABLE",
                    help="require the key held in environment VARIABLE on deployment DEP")
    ap.add_argument("--dataset", default=None,
                    help="answer from a routerlab data set's recorded answers (e.g. zeroeval; default: echo the prompt)")
    ap.add_argument("--max-body", default=str(DEFAULT_MAX_BODY), metavar="SIZE",
                    help="largest request body (bytes, or e.g. 8MiB, 20MB); larger ones get a 413 (default 8MiB)")
    ap.add_argument("--admin-token", default=None, metavar="TOKEN",
                    help=f"token the /_admin routes require (default: ${ADMIN_TOKEN_ENV}, else a random one, printed)")
    ap.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                    help="accept this Host name besides 127.0.0.1/localhost/::1 (e.g. behind a port forward)")
    ap.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                    help="accept requests from this browser origin (e.g. http://127.0.0.1:8888)")
    return ap


def _load_answers(dataset: str | None) -> Answers | None:
    """Answers from a data set's recorded responses; a data set that does not load is the user's
    argument: ConfigError (exit 2), never a silent echo."""
    if not dataset:
        return None
    from .. import datasets

    try:
        return answers_from_dataset(datasets.load(dataset))
    except Exception as exc:  # noqa: BLE001 - any failure to load is the --dataset argument's
        raise ConfigError(f"--dataset {dataset!r}: {exc}") from None


def _server_from_args(args: argparse.Namespace) -> ProviderServer:
    srv = ProviderServer(args.deployments, port=args.port,
                         answers=_load_answers(args.dataset), latency_scale=args.latency_scale, seed=args.seed,
                         max_body=args.max_body, admin_token=args.admin_token or os.environ.get(ADMIN_TOKEN_ENV),
                         allowed_hosts=args.allow_host, allowed_origins=args.allow_origin)
    for spec in args.fault:
        dep, fields = parse_fault(spec)
        for d in srv._targets(dep):
            merged = d.faults.to_dict()
            windows = merged.pop("windows") + fields.pop("windows", [])
            try:
                srv.set_faults(d.name, {**merged, **fields, "windows": windows})
            except ConfigError as exc:
                raise ConfigError(f"--fault {spec!r}: {exc}") from None
    for item in args.api_key_env:
        dep, eq, var = (part.strip() for part in item.partition("="))
        if not (dep and eq and var):
            raise ConfigError(f"--api-key-env {item!r}: expected DEP=VARIABLE, e.g. P1=OPENAI_API_KEY (the "
                              "deployment, then the environment variable holding its key)")
        if not os.environ.get(var):
            raise ConfigError(f"--api-key-env {item!r}: environment variable {var!r} is not set")
        srv.set_api_key(dep, os.environ[var])
    return srv


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``routerlab serve``: run the local provider server until interrupted.

    Prints one JSON line once it listens: ``{"url", "port", "deployments", "max_body", "admin_token"}``;
    ``admin_token`` is the token the ``/_admin`` routes require when the server made it up, and ``null``
    when it came from ``--admin-token`` or ``$ROUTERLAB_ADMIN_TOKEN`` (it is not echoed). Returns 2 (with
    the reason on stderr) for a bad flag or a port in use.

    Example::

        $ routerlab serve --port 8000 --deployments P1,P2,P3 --latency-scale 0.1 --max-body 4MiB \\
              --fault P1:status=429,retry_after=7 --fault P2:status=503,start=0,end=30
        {"url": "http://127.0.0.1:8000", "port": 8000, ..., "admin_token": "q3J..."}
        $ curl -H "Authorization: Bearer q3J..." http://127.0.0.1:8000/_admin/log/P1
    """
    args = _serve_parser().parse_args(list(argv) if argv is not None else None)
    given = bool(args.admin_token or os.environ.get(ADMIN_TOKEN_ENV))
    try:
        srv = _server_from_args(args)
        srv.start()
    except (ConfigError, OSError) as exc:
        print(f"routerlab serve: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread
            pass
    print(json.dumps({"url": srv.url, "port": srv.port, "deployments": srv.deployments, "max_body": srv.max_body,
                      "admin_token": None if given else srv.admin_token}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        srv.stop()
    return 0
