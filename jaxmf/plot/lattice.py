"""Figures of the 2D lattice (Sec. VII): Fig. 4 (entropy maps) and Fig. 5 (sweeps).

Data come from :func:`jaxmf.analysis.lattice_maps.entropy_map` (Fig. 4) and
:func:`jaxmf.analysis.ensemble.sweep` / :func:`~jaxmf.analysis.ensemble.load` (Fig. 5); these
functions only draw. Entropies are in nats.
"""

from __future__ import annotations

import numpy as np

from .._checks import LOG2
from ._axes import pyplot

__all__ = ["plot_fig4", "plot_fig5"]


def plot_fig4(maps, titles=None, path=None):
    """Entropy maps [S_n] of single realizations on the lattice (paper's Fig. 4).

    The lattice is drawn with its lattice vectors at +-45 degrees from vertical, as in
    the paper: x = (n1 - n2) / sqrt2, y = (n1 + n2) / sqrt2; the grain sits at the origin.

    Args:
        maps: list of :class:`jaxmf.analysis.lattice_maps.EntropyMap`.
        titles: optional list of panel titles.
        path: if given, the figure is saved there.

    Returns:
        the matplotlib Figure.
    """
    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(maps), figsize=(4.2 * len(maps) + 0.8, 4.2), squeeze=False, constrained_layout=True
    )
    from matplotlib.collections import PolyCollection

    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    rot = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2)  # (n1, n2) -> (x, y)
    for k, (ax, m) in enumerate(zip(axes[0], maps)):
        # one unit cell per site, rotated by 45 degrees (a diamond on the page)
        cells = (m.sites[:, None, :] + corners[None]) @ rot.T
        sc = PolyCollection(
            cells, array=m.entropy, cmap="viridis", edgecolors="face", linewidths=0.2
        )
        sc.set_clim(0, LOG2)
        ax.add_collection(sc)
        R = int(m.radius.max())
        lim = (R + 1) / np.sqrt(2)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.plot([0], [0], marker="*", color="red", ms=5, ls="", mec="white", mew=0.5)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[k], fontsize=10)
        else:
            ax.set_title(
                f"eta_tot = {m.eta_tot:.3g}, {'avalanche' if m.avalanche else 'failed'}",
                fontsize=10,
            )
    fig.colorbar(sc, ax=axes[0].tolist(), label="[S_n] (nats)", shrink=0.85)
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def plot_fig5(qp, random, theta_high=None, theta_low=None, path=None):
    """Ensemble-averaged [eta_tot] vs W (a: QP, b: random) and eta_tot vs theta0 (c, d).

    Args:
        qp, random: :class:`jaxmf.analysis.ensemble.SweepResult` over W x R (panels a, b);
            f_aval is drawn on a second axis (dashed).
        theta_high, theta_low: optional QP SweepResults at a single W above (c) and
            below (d) the threshold, over a fine theta0 grid, for several R.
        path: if given, the figure is saved there.

    Returns:
        the matplotlib Figure.
    """
    from ..analysis.ensemble import ensemble_average

    plt = pyplot()
    rows = 2 if (theta_high is not None or theta_low is not None) else 1
    fig, axes = plt.subplots(
        rows, 2, figsize=(11, 4.2 * rows), squeeze=False, constrained_layout=True
    )
    for ax, res, label in (
        (axes[0, 0], qp, "(a) quasiperiodic"),
        (axes[0, 1], random, "(b) random"),
    ):
        if res is None:
            ax.set_visible(False)
            continue
        stats = ensemble_average(res)
        order = np.argsort(res.W)
        twin = ax.twinx()
        for j, (R, N) in enumerate(zip(res.R, res.N)):
            (line,) = ax.plot(
                res.W[order], stats.eta_mean[order, j], marker="o", ms=3, label=f"R={R} ({N})"
            )
            twin.plot(res.W[order], stats.f_aval[order, j], ls="--", lw=1, color=line.get_color())
        ax.set_yscale("log")
        ax.set_xlabel("W")
        ax.set_ylabel("[eta_tot] (nats)")
        twin.set_ylabel("f_aval (dashed)")
        twin.set_ylim(-0.02, 1.02)
        ax.set_title(
            f"{label}, g0 = {res.parameters.get('g0')}, {res.draws.size} samples / point",
            fontsize=10,
        )
        ax.legend(fontsize=8, loc="lower left")
    for ax, res, label in ((axes[-1, 0], theta_high, "(c)"), (axes[-1, 1], theta_low, "(d)")):
        if rows == 1:
            break
        if res is None:
            ax.set_visible(False)
            continue
        for j, (R, N) in enumerate(zip(res.R, res.N)):
            ax.plot(res.theta0 / (2 * np.pi), res.eta_tot[0, j], lw=0.8, label=f"R={R} ({N})")
        ax.set_yscale("log")
        ax.set_xlabel("theta0 / 2 pi")
        ax.set_ylabel("eta_tot (nats)")
        ax.set_title(f"{label} QP, W = {res.W[0]:g}", fontsize=10)
        ax.legend(fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig
