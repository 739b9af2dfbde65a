"""A frontier plot that redraws in milliseconds when only the budget line and the recommendation move.

A dashboard slider changes two things on the plot: where the budget line is and which point is ringed
as recommended. Drawing the whole figure again (points, error bars, labels placed by adjustText, axes,
legend) and encoding it with ``bbox_inches="tight"`` took about a second here. :class:`FrontierCanvas`
draws the static figure once per selection of strategies and tasks, keeps the rendered pixels
(matplotlib's blitting: ``copy_from_bbox`` / ``restore_region``), draws only the two moving artists
on top, and encodes the RGBA buffer with Pillow at a fast compression level.

Example::

    >>> canvas = FrontierCanvas(res)                             # doctest: +SKIP
    >>> png = canvas.png(budget=1.0, highlight="gpt-4o-mini")     # doctest: +SKIP
"""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from .plots import frontier

__all__ = ["FrontierCanvas"]


class FrontierCanvas:
    """The frontier of ``results`` drawn once; :meth:`png` adds the budget line and the ring.

    ``figsize`` in inches and ``dpi`` as for the static plot. Points are read from the figure itself
    (the strategy markers, ``gid="strategy:NAME"``), so the ring sits exactly on what was drawn.
    """

    def __init__(self, results: Any, *, figsize: tuple[float, float] = (7.5, 4.6), dpi: int = 110) -> None:
        self.fig = frontier(results, pyplot=False, figsize=figsize)
        self.fig.set_dpi(dpi)
        self.ax = self.fig.axes[0]
        self.fig.tight_layout()  # fixed once: the moving artists must not change the layout
        self.ax.set_xlim(self.ax.get_xlim())
        self.ax.set_ylim(self.ax.get_ylim())
        self.points: dict[str, tuple[float, float]] = {}
        for line in self.ax.get_lines():
            gid = line.get_gid() or ""
            if gid.startswith("strategy:"):
                xs, ys = line.get_data()
                self.points[gid.split(":", 1)[1]] = (float(np.asarray(xs)[0]), float(np.asarray(ys)[0]))
        self.canvas = FigureCanvasAgg(self.fig)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        self.budget_line = self.ax.axvline(np.nan, color="C1", ls="--", lw=1, animated=True)
        (self.ring,) = self.ax.plot([], [], marker="o", ms=17, mfc="none", mec="#2ca02c", mew=2.5, ls="none",
                                    animated=True)
        self.caption = self.ax.text(0.01, 0.985, "", transform=self.ax.transAxes, ha="left", va="top", fontsize=8,
                                    animated=True, bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.8"})
        self._place_caption()

    def _place_caption(self) -> None:
        """Put the caption in the corner of the axes that covers the least of the points, labels and legend."""
        renderer = self.canvas.get_renderer()
        self.caption.set_text("- - budget $00,000.00/1k   ◯ recommended: " + "m" * 18)  # the widest it gets
        obstacles = [t.get_window_extent(renderer) for t in self.ax.texts if t is not self.caption]
        legend = self.ax.get_legend()
        if legend is not None:
            obstacles.append(legend.get_window_extent(renderer))
        dots = [self.ax.transData.transform(xy) for xy in self.points.values()]
        corners: list[tuple[float, float, Literal["left", "right"], Literal["top", "bottom"]]] = [
            (0.01, 0.985, "left", "top"), (0.99, 0.985, "right", "top"),
            (0.01, 0.015, "left", "bottom"), (0.99, 0.015, "right", "bottom")]
        best, least = corners[0], np.inf
        for x, y, ha, va in corners:
            self.caption.set_position((x, y))
            self.caption.set_horizontalalignment(ha)
            self.caption.set_verticalalignment(va)
            box = self.caption.get_window_extent(renderer)
            cover = sum(max(0.0, min(box.x1, o.x1) - max(box.x0, o.x0)) * max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0))
                        for o in obstacles) + 400.0 * sum(box.contains(px, py) for px, py in dots)
            if cover < least:
                best, least = (x, y, ha, va), float(cover)
        x, y, ha, va = best
        self.caption.set_position((x, y))
        self.caption.set_horizontalalignment(ha)
        self.caption.set_verticalalignment(va)
        self.caption.set_text("")

    def png(self, *, budget: float | None, highlight: str | None, compress_level: int = 1) -> bytes:
        """The plot with the budget line at ``budget`` (USD per 1k prompts) and ``highlight`` ringed."""
        from PIL import Image

        self.canvas.restore_region(self.background)
        words = []
        if budget is not None and np.isfinite(budget):
            self.budget_line.set_xdata([budget, budget])
            self.ax.draw_artist(self.budget_line)
            words.append(f"- - budget ${budget:,.2f}/1k")
        if highlight in self.points:
            x, y = self.points[str(highlight)]
            self.ring.set_data([x], [y])
            self.ax.draw_artist(self.ring)
            words.append(f"◯ recommended: {highlight}")
        if words:
            self.caption.set_text("   ".join(words))
            self.ax.draw_artist(self.caption)
        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=compress_level)
        return out.getvalue()
