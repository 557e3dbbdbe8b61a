"""Fig. 1(d): the entropic enhancement eta(g)."""

from __future__ import annotations

import numpy as np

from .._checks import LOG2
from ._axes import axes


def plot_fig1d(data, ax=None):
    """Fig. 1(d): the entropic enhancement eta(g) for both ptilde families."""
    ax = axes(ax)
    g = data["g"]
    for dist, style in (("goe", "-"), ("poisson", "--")):
        ax.plot(g, data[f"eta_{dist}"], style, label=f"$\\eta(g)$, {dist}")
    small = g < 0.01
    ax.plot(g[small], -8 * g[small] * np.log(g[small]), ":", c="gray", label="$-8g\\log g$")
    ax.axhline(LOG2, c="k", lw=0.6)
    ax.text(g[-1], LOG2 * 1.03, "log 2", fontsize=8, ha="right")
    ax.set_xscale("log")
    ax.set_xlabel("reduced coupling $g$")
    ax.set_ylabel("$\\eta(g)$ (nats)")
    ax.set_ylim(0, 0.8)
    ax.legend(fontsize=8, loc="center right")
    return ax
