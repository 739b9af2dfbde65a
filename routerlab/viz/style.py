"""One colour per model and strategy, the same in every plot and notebook.

A name's colour comes from a palette keyed by name, not from its position in a plot: ``gpt-4o`` is the
same blue in the frontier, the latency CDF, the shares bars and every notebook. The bundled catalog's
models and the built-in strategies each own one of the 20 palette colours. Other names take the
palette colour their name hashes to (stable across plots) unless another name of the same plot
already holds it, then the next free one; once a plot has more names than colours, names that share a
colour differ by marker and line style. ``set_colors`` pins colours of your own.

Example::

    >>> styles(["gpt-4o", "gpt-4o-mini"])["gpt-4o"].color == color_of("gpt-4o")
    True
    >>> len({s.color for s in styles([f"s{i}" for i in range(12)]).values()})
    12
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["PALETTE", "Style", "styles", "color_of", "set_colors", "reset_colors"]

#: 20 distinguishable colours: matplotlib's tab10, then ten dark, saturated colours that none of tab10
#: resembles (navy, maroon, dark green, ...), so two names of one plot never share a hue family.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#a0522d", "#000000", "#808000", "#469990", "#f032e6", "#000075", "#800000", "#006400", "#d4a017", "#4b0082",
)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
_LINESTYLES = ("-", "--", ":", "-.")

# The bundled catalog's models (tab10 and sienna), then the built-in strategies of
# routerlab.routers.defaults (the dark colours; the oracle black): a fixed colour each, so they never
# change with what else a plot shows.
_KNOWN = ("gpt-4o", "gpt-4o-mini", "claude-3-opus", "claude-3.5-sonnet", "claude-3-haiku", "gemini-1.5-flash",
          "llama-3.1-70b", "llama-3.1-8b", "gemma-2-2b", "gpt-4-1106-preview", "mixtral-8x7b",
          "oracle", "random", "capability", "task", "learned", "cascade-agreement", "cascade-judge", "consensus",
          "best-of-n")
_FIXED: dict[str, str] = {name: PALETTE[i] for i, name in enumerate(_KNOWN)}
_USER: dict[str, str] = {}


@dataclass(frozen=True)
class Style:
    """How one name is drawn: ``color`` (hex), ``marker`` and ``linestyle`` (matplotlib codes)."""

    color: str
    marker: str = "o"
    linestyle: str = "-"


def set_colors(colors: Mapping[str, str]) -> None:
    """Pin colours (any matplotlib colour) for names of your own, e.g. ``{"my-router": "#000000"}``."""
    _USER.update({str(k): str(v) for k, v in colors.items()})


def reset_colors() -> None:
    """Forget the colours pinned with :func:`set_colors`."""
    _USER.clear()


def _preferred(name: str) -> str | None:
    return _USER.get(name) or _FIXED.get(name)


def color_of(name: str) -> str:
    """The colour ``name`` gets when nothing else in the plot holds it (pinned, known, or hashed)."""
    return _preferred(name) or PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


def styles(names: Iterable[str]) -> dict[str, Style]:
    """A :class:`Style` per name for one plot: distinct colours while the palette lasts, then distinct
    (colour, marker, line style) combinations. Pinned and known names keep their colour; the others
    take their hashed colour or the next one no other name of this plot uses."""
    ordered = list(dict.fromkeys(str(n) for n in names))
    colors: dict[str, str] = {}
    taken: dict[str, int] = {}
    for name in ordered:  # fixed colours first: they must not move because of an unknown name
        if (c := _preferred(name)) is not None:
            colors[name] = c
            taken[c] = taken.get(c, 0) + 1
    for name in ordered:
        if name in colors:
            continue
        start = zlib.crc32(name.encode()) % len(PALETTE)
        free = [PALETTE[(start + k) % len(PALETTE)] for k in range(len(PALETTE))
                if PALETTE[(start + k) % len(PALETTE)] not in taken]
        c = free[0] if free else PALETTE[start]
        colors[name] = c
        taken[c] = taken.get(c, 0) + 1
    out: dict[str, Style] = {}
    seen: dict[str, int] = {}
    for name in ordered:
        k = seen.get(colors[name], 0)  # the k-th name of this colour in the plot
        seen[colors[name]] = k + 1
        out[name] = Style(colors[name], _MARKERS[k % len(_MARKERS)], _LINESTYLES[k % len(_LINESTYLES)])
    return out
