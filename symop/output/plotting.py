"""Matplotlib drawing of solution fields (used by ``Solution.plot``/``animate``).

Everything draws onto a given ``Figure`` with the Agg backend, so it works
headless.  The geometry decides the picture:

* grid, 1-D: a line, with the exact solution dashed when known;
* grid, 2-D: ``pcolormesh`` with a colour bar;
* grid, 3-D: the three mid-plane slices;
* mesh, 2-D: ``tripcolor`` on the triangles;
* point cloud, 2-D: a coloured scatter; 3-D: a 3-D scatter;
* more than three coordinates: computed against exact values (a parity plot)
  when the exact solution is known, else a scatter over the first two.

Several fields are drawn side by side (one row of three slices each in 3-D).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

Limits = Mapping[str, tuple[float, float]]


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


def new_figure(geometry: Any, count: int) -> Figure:
    """A figure sized for ``count`` fields drawn on ``geometry``."""
    if kind(geometry) == "grid" and dimension(geometry) == 3:
        return plt.figure(figsize=(13.5, 3.9 * count + 0.6))
    return plt.figure(figsize=(5.0 * count + 0.6, 4.3))


def _points(geometry: Any) -> np.ndarray:
    if hasattr(geometry, "axes"):
        return geometry.points()
    pts = np.asarray(geometry.points, dtype=float)
    return pts.reshape(len(pts), -1)


def _norm(limits: Limits | None, name: str) -> dict[str, float]:
    if limits and name in limits:
        lo, hi = limits[name]
        return {"vmin": lo, "vmax": hi}
    return {}


def _line(ax, x, u, exact, name, xlabel, limits) -> None:
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
    ax.set_ylabel(name)
    ax.grid(True, alpha=0.3)


def draw(
    fig: Figure,
    geometry: Any,
    values: Mapping[str, np.ndarray],
    exact: Mapping[str, np.ndarray | None],
    title: str,
    limits: Limits | None = None,
) -> None:
    """Draw each field of ``values`` on ``geometry`` into ``fig`` (cleared first).

    :param values: field name → nodal values (grid shape for a grid, ``(N,)``
        otherwise).
    :param exact: field name → exact nodal values or ``None``.
    :param limits: field name → fixed ``(min, max)`` of the colour or value
        axis (keeps animation frames comparable).
    """
    fig.clf()
    names = list(values)
    n = len(names)
    geo = kind(geometry)
    d = dimension(geometry)
    labels = coordinate_names(geometry)

    if geo == "grid" and d == 3:
        axes = fig.subplots(n, 3, squeeze=False)
        x = [np.asarray(a, dtype=float) for a in geometry.axes]
        for row, name in enumerate(names):
            u = np.asarray(values[name], dtype=float).reshape(tuple(len(a) for a in x))
            norm = _norm(limits, name) or {"vmin": float(np.nanmin(u)), "vmax": float(np.nanmax(u))}
            for k in range(3):
                ax = axes[row, k]
                mid = len(x[k]) // 2
                plane = np.take(u, mid, axis=k)
                a, b = [j for j in range(3) if j != k]
                mesh = ax.pcolormesh(x[a], x[b], plane.T, shading="auto", cmap="viridis", **norm)
                fig.colorbar(mesh, ax=ax)
                ax.set_xlabel(labels[a])
                ax.set_ylabel(labels[b])
                ax.set_aspect("equal", adjustable="box")
                ax.set_title(f"{name}, {labels[k]} = {x[k][mid]:.3g}")
        fig.suptitle(title)
        fig.tight_layout()
        return

    for i, name in enumerate(names):
        u = np.asarray(values[name], dtype=float)
        ue = exact.get(name)
        ue = None if ue is None else np.asarray(ue, dtype=float)
        projection = "3d" if geo != "grid" and d == 3 else None
        ax = fig.add_subplot(1, n, i + 1, projection=projection)
        ax.set_title(name)
        norm = _norm(limits, name)
        if geo == "grid" and d == 1:
            _line(ax, np.asarray(geometry.axes[0], float), u.ravel(), None if ue is None else ue.ravel(), name, labels[0], limits)
        elif geo == "grid" and d == 2:
            xa, ya = (np.asarray(a, float) for a in geometry.axes)
            mesh = ax.pcolormesh(xa, ya, u.reshape(len(xa), len(ya)).T, shading="auto", cmap="viridis", **norm)
            fig.colorbar(mesh, ax=ax, label=name)
            ax.set_xlabel(labels[0])
            ax.set_ylabel(labels[1])
            ax.set_aspect("equal", adjustable="box")
        else:
            pts = _points(geometry)
            u = u.ravel()
            if d == 1:
                _line(ax, pts[:, 0], u, None if ue is None else ue.ravel(), name, labels[0], limits)
            elif d == 2 and geo == "mesh":
                cells = np.asarray(geometry.cells, dtype=np.int64)
                art = ax.tripcolor(pts[:, 0], pts[:, 1], cells[:, :3], u, shading="gouraud", cmap="viridis", **norm)
                ax.triplot(pts[:, 0], pts[:, 1], cells[:, :3], color="k", lw=0.2, alpha=0.4)
                fig.colorbar(art, ax=ax, label=name)
                ax.set_xlabel(labels[0])
                ax.set_ylabel(labels[1])
                ax.set_aspect("equal", adjustable="box")
            elif d == 2:
                art = ax.scatter(pts[:, 0], pts[:, 1], c=u, s=12, cmap="viridis", **norm)
                fig.colorbar(art, ax=ax, label=name)
                ax.set_xlabel(labels[0])
                ax.set_ylabel(labels[1])
                ax.set_aspect("equal", adjustable="datalim")
            elif d == 3:
                art = ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], c=u, s=6, cmap="viridis", **norm)
                fig.colorbar(art, ax=ax, label=name, shrink=0.7)
                ax.set_xlabel(labels[0])
                ax.set_ylabel(labels[1])
                ax.set_zlabel(labels[2])
            elif ue is not None:
                ue = ue.ravel()
                ax.scatter(ue, u, s=6, alpha=0.6)
                lo = float(np.nanmin([ue.min(), u.min()]))
                hi = float(np.nanmax([ue.max(), u.max()]))
                ax.plot([lo, hi], [lo, hi], "k--", lw=1)
                ax.set_xlabel(f"exact {name}")
                ax.set_ylabel(f"computed {name}")
                ax.grid(True, alpha=0.3)
            else:
                art = ax.scatter(pts[:, 0], pts[:, 1], c=u, s=8, cmap="viridis", **norm)
                fig.colorbar(art, ax=ax, label=name)
                ax.set_xlabel(labels[0])
                ax.set_ylabel(labels[1])
    fig.suptitle(title)
    fig.tight_layout()


def close(fig: Figure) -> None:
    """Release ``fig``'s memory."""
    plt.close(fig)


def value_limits(arrays: Sequence[np.ndarray]) -> tuple[float, float]:
    """The finite ``(min, max)`` over several arrays (``(0, 1)`` if none is finite)."""
    finite = [a[np.isfinite(a)] for a in (np.asarray(x, dtype=float) for x in arrays)]
    finite = [a for a in finite if a.size]
    if not finite:
        return (0.0, 1.0)
    return (float(min(a.min() for a in finite)), float(max(a.max() for a in finite)))
