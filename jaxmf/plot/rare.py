"""Rare avalanches: f_aval(W) of random lattices against the QP threshold."""

from __future__ import annotations

import numpy as np

from ._axes import axes

__all__ = ["plot_rare", "plot_threshold_map"]


def plot_rare(data, ax=None):
    """QP vs random: f_aval(W) of random lattices (error bars) and the QP sup W_th.

    Open markers: rows with ``reliable`` False
    (:func:`jaxmf.analysis.rare.reliable`): order-of-magnitude indications only.

    Args:
        data: dict with "random": list of rows of
            :func:`jaxmf.analysis.rare.f_aval_tail` (dicts as read back from JSON, or
            ``TailRow``; keys R, g0, W, f, stderr, reliable) and "qp": list of dicts
            (R, g0, sup, err).
        ax: matplotlib axes (a new figure if None).

    Returns:
        the axes.
    """
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax = axes(ax, figsize=(4.6, 3.6))
    rows = [r._asdict() if hasattr(r, "_asdict") else r for r in data["random"]]
    keys = sorted({(r["g0"], r["R"]) for r in rows}, key=lambda k: (-k[0], k[1]))
    markers = {10: "o", 15: "s", 22: "^"}
    colors = {}
    for g0, R in keys:
        rr = sorted((r for r in rows if r["g0"] == g0 and r["R"] == R), key=lambda r: r["W"])
        rr = [r for r in rr if r["f"] > 0]
        if not rr:
            continue
        c = colors.setdefault(g0, f"C{len(colors)}")
        W = np.array([r["W"] for r in rr])
        f = np.array([r["f"] for r in rr])
        e = np.array([r["stderr"] for r in rr])
        ax.errorbar(
            W,
            f,
            yerr=[np.minimum(e, 0.999 * f), e],
            color=c,
            marker=markers.get(R, "d"),
            ms=3.5,
            lw=1,
            capsize=2,
            label=f"random, $g_0$={g0:g}, R={R}",
        )
        weak = np.array([not r.get("reliable", True) for r in rr])
        if weak.any():  # scattered replicas: not reliable
            ax.plot(
                W[weak],
                f[weak],
                ls="none",
                marker=markers.get(R, "d"),
                ms=3.5,
                mfc="white",
                mec=c,
                zorder=3,
            )
    for q in data.get("qp", []):
        c = colors.get(q["g0"], "k")
        ls = {10: ":", 15: "--", 22: "-"}.get(q["R"], "-.")
        ax.axvline(
            q["sup"],
            color=c,
            ls=ls,
            lw=0.9,
            label=rf"QP sup $W_{{th}}$, $g_0$={q['g0']:g}, R={q['R']}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = sorted({r["W"] for r in rows})
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelsize=6)
    ax.set_xlabel("W")
    ax.set_ylabel(r"$f_{\rm aval}$")
    ax.legend(fontsize=5.5, loc="lower left")
    return ax


def plot_threshold_map(data, ax=None):
    """W_th(theta0) of QP lattices (``data``: R, theta0, W_th), e.g. the coarse grid of
    :func:`jaxmf.analysis.thresholds.sup_threshold`."""
    ax = axes(ax)
    ax.plot(data["theta0"], data["W_th"], ".-", ms=3, lw=0.8)
    ax.set_xlabel(r"$\theta_0$")
    ax.set_ylabel(r"$W_{th}(\theta_0)$")
    ax.set_title(f"QP threshold map, R={data['R']}, $g_0$=1", fontsize=8)
    return ax
