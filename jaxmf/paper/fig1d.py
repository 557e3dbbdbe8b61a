"""Fig. 1(d): the entropic enhancement eta(g) and its asymptotics (A27)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import LOG2
from ..enhancement import eta
from .report import Row, within

TITLE = "Fig. 1(d): eta(g)"
QUICK: dict = {}
FULL: dict = {}  # one size: the table lookup is instant


def compute(quick: bool, workdir: Path, progress: bool = False):
    """eta(g) of both families and its two asymptotic checks."""
    del quick, workdir, progress  # one size: the table lookup is instant
    g = np.logspace(-6, 3, 400)
    data = {"g": g}
    for dist in ("goe", "poisson"):
        data[f"eta_{dist}"] = np.asarray(eta(g, dist))
    g_small = np.array([1e-6, 1e-9, 1e-12])
    ratio = np.asarray(eta(g_small)) / (-8 * g_small * np.log(g_small))
    gap = LOG2 - np.asarray(eta(np.array([5.0, 10.0])))
    slope = np.log(gap[1] / gap[0]) / np.log(10.0 / 5.0)
    small = float(ratio[-1])
    rows = [
        Row(
            "eta(g) -> log 2 as g -> inf, log 2 - eta = O(g^-4)",
            "exponent -4",
            f"local exponent {slope:.2f} at g = 5..10 (goe)",
            "+- 0.3",
            within(slope, -4.0, 0.3),
        ),
        Row(
            "eta(g) ~ -8 g log g as g -> 0",
            "ratio eta / (-8 g log g) -> 1",
            "ratio " + ", ".join(f"{r:.3f}" for r in ratio) + " at g = 1e-6, 1e-9, 1e-12 (goe)",
            "+- 0.1 at g = 1e-12 (the next order, ~1.7 / log(1/g), is 0.06 there)",
            within(small, 1.0, 0.1),
        ),
    ]
    return data, rows


def plot(data) -> dict:
    from ..plot._axes import axes
    from ..plot.eta import plot_fig1d

    ax = axes()
    plot_fig1d(data, ax)
    return {"fig1d_eta": ax.figure}
