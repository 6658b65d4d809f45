"""Matplotlib drawing of solution fields (used by ``Solution.plot``/``animate`` and the trackers).

Figures are plain :class:`matplotlib.figure.Figure` objects, not registered
with pyplot: they draw headless with any backend, a notebook shows the one a
call returns, and nothing has to be closed.  The geometry decides the picture:

* grid, 1-D: a line, with the exact solution dashed when known;
* grid, 2-D: ``pcolormesh``; 3-D: the three mid-plane slices;
* mesh, 2-D: ``tripcolor`` on the triangles;
* point cloud, 2-D: a coloured scatter; 3-D: a 3-D scatter;
* more than three coordinates: computed against exact values (a parity plot)
  when the exact solution is known, else a scatter over the first two.

Each field is a panel; when its exact solution is known (and the space has at
most three coordinates), an error panel ``u - u_exact`` with a diverging
colour map follows it.  Every colour bar is labelled with what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

Limits = Mapping[str, tuple[float, float]]

#: colour maps of values and of errors (diverging, centred on zero)
VALUE_MAP = "viridis"
ERROR_MAP = "RdBu_r"


def kind(geometry: Any) -> str:
    """``"grid"``, ``"mesh"`` or ``"points"`` for a solution's geometry."""
    if hasattr(geometry, "axes"):
        return "grid"
    if hasattr(geometry, "cells"):
        return "mesh"
    return "points"


def dimension(geometry: Any) -> int:
    """The number of spatial coordinates of ``geometry``."""
    if hasattr(geometry, "axes"):
        return len(geometry.axes)
    return int(np.asarray(geometry.points).reshape(len(geometry.points), -1).shape[1])


def coordinate_names(geometry: Any) -> tuple[str, ...]:
    """Axis labels: the geometry's ``names`` if it has them, else x, y, z, ..."""
    names = tuple(getattr(geometry, "names", ()) or ())
    d = dimension(geometry)
    if len(names) == d:
        return names
    return tuple(["x", "y", "z"][k] if k < 3 else f"x{k + 1}" for k in range(d))


@dataclass(frozen=True)
class Panel:
    """One picture: a field's values, or its error against the exact solution."""

    field: str
    error: bool = False

    @property
    def label(self) -> str:
        """What the panel's colour bar (or value axis) shows."""
        return f"{self.field} − {self.field}_exact" if self.error else self.field


def panels(geometry: Any, values: Mapping[str, np.ndarray], exact: Mapping[str, np.ndarray | None],
           errors: bool = True) -> list[Panel]:
    """The panels of a figure: each field, followed by its error when it has an exact solution."""
    out: list[Panel] = []
    for name in values:
        out.append(Panel(name))
        if errors and exact.get(name) is not None and dimension(geometry) <= 3:
            out.append(Panel(name, error=True))
    return out


def new_figure(geometry: Any, count: int) -> Figure:
    """A figure sized for ``count`` panels drawn on ``geometry``."""
    if kind(geometry) == "grid" and dimension(geometry) == 3:
        return Figure(figsize=(13.5, 3.9 * count + 0.6))
    return Figure(figsize=(5.0 * count + 0.6, 4.3))


def _points(geometry: Any) -> np.ndarray:
    if hasattr(geometry, "axes"):
        return geometry.points()
    pts = np.asarray(geometry.points, dtype=float)
    return pts.reshape(len(pts), -1)


def _norm(limits: Limits | None, name: str, values: np.ndarray, error: bool) -> dict[str, float]:
    if limits and name in limits:
        lo, hi = limits[name]
        return {"vmin": lo, "vmax": hi}
    if error:  # centred on zero, so that the sign of the error reads from the colour
        finite = values[np.isfinite(values)]
        big = float(np.max(np.abs(finite))) if finite.size else 0.0
        big = big if big > 0 else 1e-300
        return {"vmin": -big, "vmax": big}
    return {}


def _line(ax, x, u, exact, label, xlabel, limits, name) -> None:
    order = np.argsort(x)
    ax.plot(x[order], u[order], "-", marker="o" if len(x) <= 40 else None, ms=3, label="computed")
    if exact is not None:
        ax.plot(x[order], exact[order], "k--", lw=1.2, label="exact")
        ax.legend(loc="best", fontsize="small")
    if limits and name in limits:
        lo, hi = limits[name]
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)


def draw(
    fig: Figure,
    geometry: Any,
    values: Mapping[str, np.ndarray],
    exact: Mapping[str, np.ndarray | None],
    title: str,
    limits: Limits | None = None,
    errors: bool = True,
    axes: Sequence[Any] | None = None,
) -> list[Panel]:
    """Draw each field of ``values`` on ``geometry`` into ``fig``; return the panels drawn.

    :param values: field name → nodal values (grid shape for a grid, ``(N,)``
        otherwise).
    :param exact: field name → exact nodal values or ``None``; a known one
        adds an error panel after its field when ``errors``.
    :param limits: panel label → fixed ``(min, max)`` of the colour or value
        axis (keeps animation frames comparable).
    :param axes: draw into these axes, one per panel (as many panels as there
        are axes), instead of clearing ``fig`` and laying out its own; a 3-D
        grid then shows its middle slice across the last axis.
    """
    chosen = panels(geometry, values, exact, errors)
    if axes is not None:
        chosen = chosen[: len(axes)]
    else:
        fig.clf()
    d = dimension(geometry)
    if kind(geometry) == "grid" and d == 3 and axes is None:
        grid = fig.subplots(len(chosen), 3, squeeze=False)
        for row, panel in enumerate(chosen):
            u = _panel_values(panel, values, exact)
            for k in range(3):
                _slice(fig, grid[row, k], geometry, u, panel, k, limits)
        fig.suptitle(title)
        fig.tight_layout()
        return chosen
    for i, panel in enumerate(chosen):
        if axes is not None:
            ax = axes[i]
        else:
            projection = "3d" if kind(geometry) != "grid" and d == 3 else None
            ax = fig.add_subplot(1, len(chosen), i + 1, projection=projection)
        _panel(fig, ax, geometry, panel, values, exact, limits)
    if axes is None:
        fig.suptitle(title)
        fig.tight_layout()
    return chosen


def _panel_values(panel: Panel, values: Mapping[str, np.ndarray], exact: Mapping[str, np.ndarray | None]
                  ) -> np.ndarray:
    u = np.asarray(values[panel.field], dtype=float)
    if panel.error:
        return u - np.asarray(exact[panel.field], dtype=float).reshape(u.shape)
    return u


def _slice(fig: Figure, ax: Any, geometry: Any, u: np.ndarray, panel: Panel, k: int, limits: Limits | None) -> None:
    """The middle slice of a 3-D grid across axis ``k``, with a labelled colour bar."""
    x = [np.asarray(a, dtype=float) for a in geometry.axes]
    labels = coordinate_names(geometry)
    u = u.reshape(tuple(len(a) for a in x))
    finite = u[np.isfinite(u)]
    norm = _norm(limits, panel.label, u, panel.error) or (
        {"vmin": float(finite.min()), "vmax": float(finite.max())} if finite.size else {})
    mid = len(x[k]) // 2
    plane = np.take(u, mid, axis=k)
    a, b = [j for j in range(3) if j != k]
    mesh = ax.pcolormesh(x[a], x[b], plane.T, shading="auto", cmap=ERROR_MAP if panel.error else VALUE_MAP, **norm)
    fig.colorbar(mesh, ax=ax, label=panel.label)
    ax.set_xlabel(labels[a])
    ax.set_ylabel(labels[b])
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(f"{panel.label}, {labels[k]} = {x[k][mid]:.3g}")


def _panel(fig: Figure, ax: Any, geometry: Any, panel: Panel, values: Mapping[str, np.ndarray],
           exact: Mapping[str, np.ndarray | None], limits: Limits | None) -> None:
    """One panel: the field (or its error) drawn the way the geometry asks, with a labelled colour bar."""
    geo, d = kind(geometry), dimension(geometry)
    labels = coordinate_names(geometry)
    u = _panel_values(panel, values, exact)
    ue = None if panel.error else exact.get(panel.field)
    ue = None if ue is None else np.asarray(ue, dtype=float)
    cmap = ERROR_MAP if panel.error else VALUE_MAP
    norm = _norm(limits, panel.label, u, panel.error)
    ax.set_title("error" if panel.error else panel.field)
    if geo == "grid" and d == 1:
        _line(ax, np.asarray(geometry.axes[0], float), u.ravel(), None if ue is None else ue.ravel(), panel.label,
              labels[0], limits, panel.label)
        return
    if geo == "grid" and d == 3:  # one axis given: the middle slice across the last coordinate
        _slice(fig, ax, geometry, u, panel, 2, limits)
        return
    if geo == "grid" and d == 2:
        xa, ya = (np.asarray(a, float) for a in geometry.axes)
        art = ax.pcolormesh(xa, ya, u.reshape(len(xa), len(ya)).T, shading="auto", cmap=cmap, **norm)
        fig.colorbar(art, ax=ax, label=panel.label)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_aspect("equal", adjustable="box")
        return
    pts = _points(geometry)
    u = u.ravel()
    if d == 1:
        _line(ax, pts[:, 0], u, None if ue is None else ue.ravel(), panel.label, labels[0], limits, panel.label)
    elif d == 2 and geo == "mesh":
        cells = np.asarray(geometry.cells, dtype=np.int64)
        art = ax.tripcolor(pts[:, 0], pts[:, 1], cells[:, :3], u, shading="gouraud", cmap=cmap, **norm)
        ax.triplot(pts[:, 0], pts[:, 1], cells[:, :3], color="k", lw=0.2, alpha=0.4)
        fig.colorbar(art, ax=ax, label=panel.label)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_aspect("equal", adjustable="box")
    elif d == 2:
        art = ax.scatter(pts[:, 0], pts[:, 1], c=u, s=12, cmap=cmap, **norm)
        fig.colorbar(art, ax=ax, label=panel.label)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_aspect("equal", adjustable="datalim")
    elif d == 3:
        art = ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], c=u, s=6, cmap=cmap, **norm)
        fig.colorbar(art, ax=ax, label=panel.label, shrink=0.7)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        if hasattr(ax, "set_zlabel"):
            ax.set_zlabel(labels[2])
    elif exact.get(panel.field) is not None:
        ue = np.asarray(exact[panel.field], dtype=float).ravel()
        ax.scatter(ue, u, s=6, alpha=0.6)
        lo = float(np.nanmin([ue.min(), u.min()]))
        hi = float(np.nanmax([ue.max(), u.max()]))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlabel(f"exact {panel.field}")
        ax.set_ylabel(f"computed {panel.field}")
        ax.grid(True, alpha=0.3)
    else:
        art = ax.scatter(pts[:, 0], pts[:, 1], c=u, s=8, cmap=cmap, **norm)
        fig.colorbar(art, ax=ax, label=panel.label)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])


def close(fig: Figure) -> None:
    """Release ``fig``'s memory (its artists; the figure is not registered with pyplot)."""
    fig.clf()


def value_limits(arrays: Sequence[np.ndarray]) -> tuple[float, float]:
    """The finite ``(min, max)`` over several arrays (``(0, 1)`` if none is finite)."""
    finite = [a[np.isfinite(a)] for a in (np.asarray(x, dtype=float) for x in arrays)]
    finite = [a for a in finite if a.size]
    if not finite:
        return (0.0, 1.0)
    return (float(min(a.min() for a in finite)), float(max(a.max() for a in finite)))
