"""``check_router``: does a router keep routerlab's Router contract (like scikit-learn's ``check_estimator``)?

Example::

    >>> from routerlab.routers import FixedRouter, check_router
    >>> check_router(FixedRouter("gpt-4o-mini"))   # the failures; raises AssertionError when there are any
    []
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import NotFittedError
from ..types import Decision, Request
from .base import EXPLAIN_COLUMNS
from .params import check_params, clone

__all__ = ["check_router"]



_SAMPLE_PROMPTS = [
    ("check-0", "code", "Write a Python function that reverses a linked list."),
    ("check-1", "math", "Solve for x: 3x + 7 = 22. How much is x?"),
    ("check-2", "translation", "Translate 'good morning' into French."),
    ("check-3", "summarization", "Summarize the following paragraph in one sentence: The quick brown fox ..."),
    ("check-4", "creative", "Write a short poem about the sea."),
    ("check-5", None, "Hello! How are you today?"),
]


def _sample_requests() -> list[Request]:
    return [Request.from_prompt(p, prompt_id=pid, task=t) for pid, t, p in _SAMPLE_PROMPTS]


def check_router(router: Any, requests: Any = None, *, raise_errors: bool = True) -> list[str]:
    """Check that ``router`` keeps routerlab's Router contract (like scikit-learn's ``check_estimator``).

    ``requests``: a list of Requests or a Dataset to route (default: six built-in prompts; routers that
    only know recorded prompts, such as the oracle, need a Dataset). Checks: ``name``/``prompt_only``
    attributes; ``route`` returns a Decision with a model name, deterministically, that is among its
    scores when it reports any; ``explain`` lists every candidate with a score or the constraint that
    removed it and marks exactly the routed model as chosen; for prompt-only routers ``route_many`` over
    a list and over a DataFrame returns a numpy array equal to ``route`` on every request (and an empty
    array for no requests); the params contract (:func:`~routerlab.routers.params.check_params`: parameters
    are the ``__init__`` keywords stored unchanged, ``get_params(deep=True)``/``set_params`` round-trip,
    an unknown key raises, ``repr`` is the parameters') and :func:`~routerlab.routers.params.clone` gives
    a copy that routes the same or raises :class:`~routerlab.errors.NotFittedError` until fitted.

    Returns the list of failures (empty when all pass); raises ``AssertionError`` listing them unless
    ``raise_errors=False``.

    Example::

        >>> from routerlab.routers import RandomRouter, check_router
        >>> check_router(RandomRouter(["gpt-4o", "gpt-4o-mini"], seed=1))
        []
    """
    failures: list[str] = []

    def fail(msg: str) -> None:
        failures.append(msg)

    if requests is None:
        reqs = _sample_requests()
    elif hasattr(requests, "requests") and hasattr(requests, "prompts"):
        reqs = requests.requests()
    else:
        reqs = list(requests)
    if not isinstance(getattr(router, "name", None), str) or not router.name:
        fail("router.name must be a non-empty string")
    prompt_only = getattr(router, "prompt_only", None)
    if not isinstance(prompt_only, bool):
        fail("router.prompt_only must be True or False")
    for attr in ("route", "explain"):
        if not callable(getattr(router, attr, None)):
            fail(f"router has no {attr}() method")
    if failures:
        return _finish(router, failures, raise_errors)

    decisions: list[str | None] = []
    for r in reqs:
        try:
            d = router.route(r)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            fail(f"route({r.prompt_id!r}) raised {type(exc).__name__}: {exc}")
            decisions.append(None)
            continue
        if not isinstance(d, Decision) or not isinstance(d.model, str) or not d.model:
            fail(f"route({r.prompt_id!r}) must return a Decision with a model name, got {d!r}")
            decisions.append(None)
            continue
        decisions.append(d.model)
        if d.scores and d.model not in d.scores:
            fail(f"route({r.prompt_id!r}) chose {d.model!r}, which is not among its scores {dict(d.scores)}")
        again = router.route(r)
        if again.model != d.model:
            fail(f"route({r.prompt_id!r}) is not deterministic: {d.model!r} then {again.model!r}")
        try:
            table = router.explain(r)
        except Exception as exc:  # noqa: BLE001
            fail(f"explain({r.prompt_id!r}) raised {type(exc).__name__}: {exc}")
            continue
        if not isinstance(table, pd.DataFrame) or not set(EXPLAIN_COLUMNS) <= set(table.columns):
            fail(f"explain({r.prompt_id!r}) must return a DataFrame with columns {EXPLAIN_COLUMNS}")
            continue
        chosen = table.loc[table["chosen"].astype(bool), "model"].tolist()
        if chosen != [d.model]:
            fail(f"explain({r.prompt_id!r}) marks {chosen} as chosen, route chose {d.model!r}")
        unexplained = table["score"].isna() & table["removed_by"].isna()
        if unexplained.any():
            fail(f"explain({r.prompt_id!r}): {table.loc[unexplained, 'model'].tolist()} have neither a score "
                 "nor the constraint that removed them")
        if table["model"].duplicated().any():
            fail(f"explain({r.prompt_id!r}) lists a candidate twice")

    if prompt_only:
        if not callable(getattr(router, "route_many", None)):
            fail("a prompt-only router needs route_many(requests)")
        else:
            _check_batch(router, reqs, decisions, fail)

    _check_params(router, reqs, decisions, fail)
    return _finish(router, failures, raise_errors)


def _check_batch(router: Any, reqs: list[Request], decisions: list[str | None], fail: Any) -> None:
    frame = pd.DataFrame({
        "prompt_id": [r.prompt_id for r in reqs], "task": [r.task for r in reqs],
        "prompt": [r.prompt for r in reqs], "system": [r.system or "" for r in reqs],
    })
    for label, arg in (("a list", reqs), ("a DataFrame", frame)):
        try:
            out = router.route_many(arg)
        except Exception as exc:  # noqa: BLE001
            fail(f"route_many({label}) raised {type(exc).__name__}: {exc}")
            continue
        if not isinstance(out, np.ndarray) or len(out) != len(reqs):
            fail(f"route_many({label}) must return a numpy array of {len(reqs)} model names")
            continue
        for r, single, batch in zip(reqs, decisions, out):
            if single is not None and batch != single:
                fail(f"route_many({label}) disagrees with route on {r.prompt_id!r}: {batch!r} vs {single!r}")
    try:
        empty = router.route_many([])
        if not isinstance(empty, np.ndarray) or len(empty) != 0:
            fail("route_many([]) must return an empty numpy array")
    except Exception as exc:  # noqa: BLE001
        fail(f"route_many([]) raised {type(exc).__name__}: {exc}")


def _check_params(router: Any, reqs: list[Request], decisions: list[str | None], fail: Any) -> None:
    """The params contract (:func:`~routerlab.routers.params.check_params`) and: a clone routes the same,
    or raises NotFittedError until fitted. Routers without ``get_params`` (a bare Protocol) skip this."""
    if not callable(getattr(router, "get_params", None)):
        return
    for failure in check_params(router):
        fail(failure)
    if not reqs or decisions[0] is None:
        return
    try:
        copy = clone(router)
        d = copy.route(reqs[0])
    except NotFittedError:
        if not callable(getattr(router, "fit", None)):
            fail("the clone raised NotFittedError but the router has no fit()")
        return
    except Exception as exc:  # noqa: BLE001
        fail(f"clone(router).route raised {type(exc).__name__} (expected a decision or NotFittedError): {exc}")
        return
    if not callable(getattr(router, "fit", None)) and d.model != decisions[0]:
        fail(f"clone(router) routes {reqs[0].prompt_id!r} to {d.model!r}, the router to {decisions[0]!r}")


def _finish(router: Any, failures: list[str], raise_errors: bool) -> list[str]:
    if failures and raise_errors:
        raise AssertionError(f"{type(router).__name__} failed {len(failures)} check(s):\n- " + "\n- ".join(failures))
    return failures
