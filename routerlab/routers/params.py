"""One params mechanism for every router, strategy, ensemble, signal and judge (scikit-learn's contract).

:class:`Params` gives a class ``get_params`` / ``set_params`` (nested ``a__b`` keys), ``validate``,
:func:`clone` and a ``repr`` by reading the keywords of its ``__init__``, exactly as scikit-learn's
``BaseEstimator`` does. A subclass keeps four rules (what :func:`check_params` checks):

1. Every parameter is a named keyword of ``__init__`` (no ``*args`` / ``**kwargs``), stored unchanged
   under its own name. A ``@dataclass(eq=False, repr=False)`` gets this by construction; a hand-written
   ``__init__`` does ``self.x = x`` for each keyword. A parameter whose default is derived from another
   one (a wrapper's ``name``) is a :class:`DerivedDefault`: the stored ``None`` is the parameter, the
   derived value is what reading the attribute gives.
2. ``__init__`` does nothing else. Checks go in ``_validate()``, which the first use calls through
   :meth:`Params.validate` (and ``set_params`` re-arms), so ``set_params`` and ``clone`` always work.
3. State learned by ``fit`` ends in ``_`` (``stages_``, ``routing_table_``) and exists only after ``fit``.
4. Values cached from the parameters live in attributes starting with ``_cache``; ``set_params`` drops them.

``repr`` shows the parameters that differ from their defaults (scikit-learn's ``print_changed_only``).
The experiment's config hash (:func:`routerlab.harness.fingerprint`) reads the same parameters, nested
ones included, so changing any of them recomputes a strategy's results and nothing else does.

Example::

    >>> from routerlab.routers import CascadeRouter, JudgeVerdict, LLMJudge, clone
    >>> c = CascadeRouter(["gpt-4o-mini", "gpt-4o"], JudgeVerdict(LLMJudge("gpt-4o-mini")))
    >>> c.get_params()["signal__judge__model"]
    'gpt-4o-mini'
    >>> c.set_params(signal__judge__model="gpt-4o").signal.judge.model
    'gpt-4o'
    >>> clone(c)
    CascadeRouter(stages=['gpt-4o-mini', 'gpt-4o'], signal=JudgeVerdict(judge=LLMJudge(model='gpt-4o')))
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, TypeVar

from ..errors import ConfigError

__all__ = ["Params", "DerivedDefault", "clone", "check_params"]

P = TypeVar("P", bound="Params")

#: ``repr`` cuts a parameter's text at this many characters (a catalog or a data set can be long).
_REPR_WIDTH = 60


_SIGNATURES: dict[type, tuple[tuple[str, Any], ...]] = {}


def _signature(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, default) of each ``__init__`` keyword; ``inspect.Parameter.empty`` when it has none."""
    known = _SIGNATURES.get(cls)
    if known is not None:
        return known
    init = cls.__init__  # type: ignore[misc]
    if init is object.__init__:
        return ()
    out = []
    for p in inspect.signature(init).parameters.values():
        if p.name == "self":
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{cls.__name__}.__init__ takes {'*' if p.kind == p.VAR_POSITIONAL else '**'}{p.name}: "
                            "parameters must be named keywords so that get_params, set_params and clone find "
                            "them (scikit-learn's estimator contract)")
        out.append((p.name, p.default))
    _SIGNATURES[cls] = tuple(out)
    return _SIGNATURES[cls]


def _has_params(value: Any) -> bool:
    """Whether ``value`` takes part in nested parameters (a Params, or any scikit-learn estimator)."""
    return callable(getattr(value, "get_params", None)) and not isinstance(value, type)


class Params:
    """The base of every configurable object in :mod:`routerlab.routers` (see the module docstring).

    Subclasses declare their parameters as ``__init__`` keywords (a ``@dataclass(eq=False, repr=False)``
    or ``self.x = x`` lines), put checks in ``_validate`` and call ``self.validate()`` where they are
    first used. Everything else is inherited.

    Example::

        >>> from dataclasses import dataclass
        >>> @dataclass(eq=False, repr=False)
        ... class Threshold(Params):
        ...     cutoff: float = 0.5
        ...     name: str = "threshold"
        ...     def _validate(self) -> None:
        ...         if not 0 <= self.cutoff <= 1:
        ...             raise ConfigError(f"Threshold cutoff must be in [0, 1], got {self.cutoff}")
        >>> t = Threshold(cutoff=0.8)
        >>> t, t.get_params()
        (Threshold(cutoff=0.8), {'cutoff': 0.8, 'name': 'threshold'})
        >>> t.set_params(cutoff=2).validate()
        Traceback (most recent call last):
        ...
        routerlab.errors.ConfigError: Threshold cutoff must be in [0, 1], got 2
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        """The parameter names: the keywords of ``__init__``, in order."""
        return [name for name, _ in _signature(cls)]

    def _param(self, name: str) -> Any:
        # what __init__ stored: a DerivedDefault keeps it in __dict__ and derives what getattr reads
        stored = getattr(self, "__dict__", {})
        return stored[name] if name in stored else getattr(self, name)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's keywords and their current values.

        ``deep=True`` adds the parameters of nested objects (those with ``get_params``) as
        ``<param>__<nested param>`` keys, at any depth, as scikit-learn does.
        """
        out: dict[str, Any] = {}
        for key in self._param_names():
            value = self._param(key)
            if deep and _has_params(value):
                out.update((f"{key}__{k}", v) for k, v in value.get_params(deep=True).items())
            out[key] = value
        return out

    def set_params(self: P, **params: Any) -> P:
        """Change parameters, nested ones as ``<param>__<nested param>=value``; returns ``self``.

        Plain keys are set first, so ``set_params(judge=new, judge__seed=1)`` sets the seed of the new
        judge. A nested object is changed in place (share one judge between two strategies and both
        see the change; :func:`clone` first to change one only). Caches derived from the parameters
        (``_cache*``) are dropped and the next use validates again; learned state (``*_``) is kept.
        Raises :class:`~routerlab.errors.ConfigError` naming the unknown key and the valid ones.
        """
        _set_params(self, params, "")
        return self

    def _invalidate(self) -> None:
        """Drop what was derived from the parameters (compiled matchers, plans, the validated mark)."""
        for key in [k for k in vars(self) if k.startswith("_cache")]:
            delattr(self, key)

    def _validate(self) -> None:
        """Raise :class:`~routerlab.errors.ConfigError` for a bad parameter (subclasses; default: none)."""

    def validate(self: P) -> P:
        """Check the parameters now (nested objects too); returns ``self``.

        The first use of an object calls this, so a bad parameter raises there at the latest; call it
        to fail earlier (the :class:`~routerlab.harness.Experiment` does, for every strategy it is
        given). Checked once until ``set_params`` changes something. Raises
        :class:`~routerlab.errors.ConfigError` naming the parameter and what it accepts.
        """
        if not self.__dict__.get("_cache_valid"):
            self._validate()
            for value in self.get_params(deep=False).values():
                if isinstance(value, Params):
                    value.validate()
            self._cache_valid = True
        return self

    def __repr__(self) -> str:
        shown = []
        for key, default in _signature(type(self)):
            value = self._param(key)
            if default is inspect.Parameter.empty or not _same(value, default):
                shown.append(f"{key}={_short(value)}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _set_params(obj: Any, params: Mapping[str, Any], path: str) -> None:
    """Check every key first (an error changes nothing), then set plain keys, then nested ones."""
    nested = _split(obj, params, path)
    for key, value in params.items():
        if "__" not in key:
            setattr(obj, key, value)
    for head, sub in nested.items():
        _apply(obj._param(head), sub, f"{path}{head}__")
    obj._invalidate()


def _apply(obj: Any, params: Mapping[str, Any], path: str) -> None:
    if isinstance(obj, Params):
        _set_params(obj, params, path)
    else:  # a foreign estimator (scikit-learn) sets its own
        obj.set_params(**params)


def _split(obj: Any, params: Mapping[str, Any], path: str) -> dict[str, dict[str, Any]]:
    """The nested keys of ``params`` by parameter, after checking every key names a parameter of the
    object it will reach (the new value of a parameter set in the same call, else the current one)."""
    names = obj._param_names()
    nested: dict[str, dict[str, Any]] = {}
    for key in params:
        head, sep, rest = key.partition("__")
        if head not in names:
            raise ConfigError(f"set_params({path}{key}=...): {type(obj).__name__} has no parameter {head!r}; "
                              f"its parameters: {', '.join(names) or '(none)'}")
        if sep:
            nested.setdefault(head, {})[rest] = params[key]
    for head, sub in nested.items():
        child = params[head] if head in params else obj._param(head)
        if not _has_params(child):
            keys = ", ".join(f"{path}{head}__{k}" for k in sub)
            raise ConfigError(f"set_params({keys}=...): {type(obj).__name__}.{head} is a {type(child).__name__}, "
                              "which has no parameters of its own; set the whole value instead")
        if isinstance(child, Params):
            _split(child, sub, f"{path}{head}__")
    return nested


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if type(value) is not type(default):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # arrays compare element-wise: never "the default"
        return False


def _short(value: Any) -> str:
    text = repr(value)
    if isinstance(value, Params) or len(text) <= _REPR_WIDTH:
        return text
    return text[:_REPR_WIDTH - 3] + "..."


def clone(obj: Any) -> Any:
    """An unfitted copy of ``obj`` built from its parameters (like ``sklearn.base.clone``).

    Objects with ``get_params`` (routers, strategies, signals, judges, scikit-learn estimators) are
    rebuilt from ``get_params(deep=False)``, their nested ones cloned the same way, so the copy has
    equal parameters and no learned (``*_``) state or caches. Lists, tuples, sets and dicts are copied
    with their items cloned. Anything else (a data set, a catalog, a caller such as a Gateway, an
    embedder) is shared, not deep-copied as scikit-learn would: they are resources, often large or
    holding connections, and nothing in routerlab changes them while fitting.

    Raises ``RuntimeError`` when the class's ``__init__`` does not store a parameter unchanged (the
    clone would not be equal), as scikit-learn does.

    Example::

        >>> from routerlab.routers import TaskRouter, clone
        >>> fitted = TaskRouter(tolerance=0.01).fit(train_dataset)                     # doctest: +SKIP
        >>> fresh = clone(fitted)                                                        # doctest: +SKIP
        >>> fresh.get_params(deep=False) == fitted.get_params(deep=False), hasattr(fresh, "routing_table_")  # doctest: +SKIP
        (True, False)
    """
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [clone(x) for x in obj]
        return items if type(obj) is list else type(obj)(items)
    if isinstance(obj, dict) and type(obj) is dict:
        return {k: clone(v) for k, v in obj.items()}
    if not _has_params(obj):
        return obj
    params = {k: clone(v) for k, v in obj.get_params(deep=False).items()}
    new = type(obj)(**params)
    stored = new.get_params(deep=False)
    for key, value in params.items():
        if stored.get(key) is not value:
            raise RuntimeError(f"cannot clone {type(obj).__name__}: its __init__ does not store parameter {key!r} "
                               "unchanged; store every keyword as given and move checks to _validate()")
    return new


def check_params(obj: Any) -> list[str]:
    """The ways ``obj`` breaks the params contract (empty when it keeps it); used by ``check_router``.

    Checks: ``get_params(deep=False)`` lists exactly the ``__init__`` keywords, each stored unchanged
    (a fresh object built from them holds the very same values, and sets no public attribute and no
    learned ``*_`` attribute besides them); ``deep=True`` adds every nested object's parameters under
    ``<param>__``; ``set_params(**get_params())`` returns the object and changes nothing; an unknown key
    raises ``ConfigError``; :func:`clone` gives an equal, unfitted copy; ``repr`` is the parameters'.

    Example::

        >>> from routerlab.routers import Consensus, check_params
        >>> check_params(Consensus(["gpt-4o-mini", "llama-3.1-70b"]))
        []
    """
    failures: list[str] = []
    name = type(obj).__name__
    try:
        keys = [k for k, _ in _signature(type(obj))]
    except TypeError as exc:
        return [str(exc)]
    params = obj.get_params(deep=False)
    if list(params) != keys:
        failures.append(f"get_params(deep=False) gives {list(params)}, the __init__ keywords are {keys}")
        return failures
    failures += _check_fresh(obj, params)
    failures += _check_deep(obj, params)
    if obj.set_params(**obj.get_params(deep=True)) is not obj:
        failures.append("set_params(...) must return the object itself")
    if not _equal_params(obj.get_params(deep=False), params):
        failures.append("set_params(**get_params()) changed the parameters")
    try:
        obj.set_params(**{"no_such_parameter__": 1})
        failures.append("set_params(no_such_parameter__=1) did not raise")
    except ConfigError:
        pass
    try:
        copy = clone(obj)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return failures + [f"clone() raised {type(exc).__name__}: {exc}"]
    if not _equal_params(copy.get_params(deep=False), params):
        failures.append("clone() does not have the same parameters")
    learned = [k for k in vars(copy) if k.endswith("_") and not k.startswith("_")]
    if learned:
        failures.append(f"clone() carries learned state {learned}")
    if isinstance(obj, Params) and repr(obj) != Params.__repr__(obj):
        failures.append(f"{name}.__repr__ is not the parameters' repr (a @dataclass without repr=False replaces it)")
    return failures


def _check_fresh(obj: Any, params: dict[str, Any]) -> list[str]:
    """A new object from ``params`` stores each one unchanged and sets nothing public besides them."""
    try:
        fresh = type(obj)(**params)
    except Exception as exc:  # noqa: BLE001
        return [f"{type(obj).__name__}(**get_params(deep=False)) raised {type(exc).__name__}: {exc}"]
    out = [f"__init__ does not store parameter {k!r} unchanged (it must; checks go in _validate)"
           for k, v in params.items() if fresh.get_params(deep=False)[k] is not v]
    extra = [k for k in vars(fresh) if k not in params and (k.endswith("_") or not k.startswith("_"))]
    if extra:
        out.append(f"__init__ sets attributes that are not parameters: {extra} (learned state belongs to fit, "
                   "caches to _cache* attributes)")
    return out


def _check_deep(obj: Any, params: dict[str, Any]) -> list[str]:
    deep = obj.get_params(deep=True)
    out = []
    for key, value in params.items():
        if _has_params(value):
            missing = [k for k in value.get_params(deep=True) if f"{key}__{k}" not in deep]
            if missing:
                out.append(f"get_params(deep=True) lacks {[f'{key}__{k}' for k in missing]}")
    return out


def _equal_params(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal parameters: nested objects compared by class and parameters, the rest with ``==``/identity."""
    if list(a) != list(b):
        return False
    return all(_equal_value(a[k], b[k]) for k in a)


def _equal_value(x: Any, y: Any) -> bool:
    if _has_params(x) or _has_params(y):
        return type(x) is type(y) and _equal_params(x.get_params(deep=False), y.get_params(deep=False))
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(_equal_value(i, j) for i, j in zip(x, y))
    if x is y:
        return True
    try:
        return bool(x == y)
    except (TypeError, ValueError):
        return False


class DerivedDefault:
    """A parameter whose default, ``None``, stands for a value derived from the other parameters.

    Reading the attribute gives the derived value while the stored one is ``None``; the parameter
    (what ``get_params`` returns, what ``clone`` passes on) stays ``None``, so a clone keeps deriving
    it, and ``repr`` hides it. Works in a ``@dataclass`` (the field's default is ``None``).

    Example::

        >>> from dataclasses import dataclass
        >>> @dataclass(eq=False, repr=False)
        ... class Wrapper(Params):
        ...     inner: str = "fixed"
        ...     name: DerivedDefault = DerivedDefault(lambda self: self.inner + "+wrapped")
        >>> w = Wrapper()
        >>> w.name, w.get_params(), w
        ('fixed+wrapped', {'inner': 'fixed', 'name': None}, Wrapper())
    """

    def __init__(self, derive: Any) -> None:
        self.derive = derive
        self.attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:  # a dataclass asks the class for the field's default
            return None
        given = obj.__dict__.get(self.attr)
        return given if given is not None else self.derive(obj)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.attr] = value
