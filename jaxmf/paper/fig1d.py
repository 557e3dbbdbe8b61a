"""Fig. 1(d): the entropic enhancement eta(g) and its asymptotics (A27)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import LOG2
from ..enhancement import eta

TITLE = "Fig. 1(d): eta(g)"


def compute(quick: bool, workdir: Path):
    """eta(g) of both families and its two asymptotic checks."""
    del quick, workdir  # one size: the table lookup is instant
    g = np.logspace(-6, 3, 400)
    data = {"g": g}
    for dist in ("goe", "poisson"):
        data[f"eta_{dist}"] = np.asarray(eta(g, dist))
    g_small = np.array([1e-6, 1e-9, 1e-12])
    ratio = np.asarray(eta(g_small)) / (-8 * g_small * np.log(g_small))
    gap = LOG2 - np.asarray(eta(np.array([5.0, 10.0])))
    slope = np.log(gap[1] / gap[0]) / np.log(10.0 / 5.0)
    rows = [
        ("eta(g) -> log 2 as g -> inf, log 2 - eta = O(g^-4)", "g^-4",
         f"local exponent {slope:.2f} at g = 5..10 (goe)", "agrees"),
        ("eta(g) ~ -8 g log g as g -> 0", "-8 g log g",
         "ratio " + ", ".join(f"{r:.3f}" for r in ratio) + " at g = 1e-6, 1e-9, 1e-12 (goe)",
         "agrees (log corrections ~ 1/log(1/g))"),
    ]
    return data, rows


def plot(data) -> dict:
    from ..plot._axes import axes
    from ..plot.eta import plot_fig1d

    ax = axes()
    plot_fig1d(data, ax)
    return {"fig1d_eta": ax.figure}
