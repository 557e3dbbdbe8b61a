"""Fig. 4: entropy maps of failed and running avalanches on the 2D lattice."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from ..analysis.lattice_maps import EntropyMap, entropy_map
from ..models import QPPhase
from .report import AGREES, DIFFERS, Row, stage

TITLE = "Fig. 4: entropy maps"
QUICK: dict = {}
FULL: dict = {}  # one size: four single realizations


def compute(quick: bool, workdir: Path, progress: bool = False):
    """Entropy maps of one QP realization at four W."""
    del quick, workdir  # one size: four single realizations
    theta0, R = 2.954, 15
    Ws = (20.0, 45.0, 70.0, 120.0)
    maps = []
    for W in Ws:
        stage(progress, f"entropy map R = {R}, W = {W:g}")
        maps.append(entropy_map(R, W, realization=QPPhase(theta0))._asdict())
    aval = {W: bool(m["avalanche"]) for W, m in zip(Ws, maps)}
    rows = [
        Row(
            "Fig. 4: at W = 45 (R = 15, theta0 = 2.954, g0 = 1) the avalanche fails, only "
            "orbitals near the grain thermalize; at W = 20 it thermalizes everything",
            "W = 45 failed, W = 20 avalanche",
            "; ".join(
                f"W = {W:g}: eta_tot = {m['eta_tot']:.2f}, n* = {m['n_thermal']:.1f}, "
                f"{'avalanche' if m['avalanche'] else 'failed'}"
                for W, m in zip(Ws, maps)
            ),
            "the same outcome at W = 20 and 45",
            AGREES if aval[20.0] and not aval[45.0] else DIFFERS,
        )
    ]
    return {"R": R, "theta0": theta0, "W": list(Ws), "maps": maps}, rows


def plot(data) -> dict:
    from ..plot.lattice import plot_fig4

    maps = [
        EntropyMap(
            **cast(
                "dict[str, Any]",
                {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in m.items()},
            )
        )
        for m in data["maps"]
    ]
    titles = [
        f"W = {W:g}: eta_tot = {m.eta_tot:.3g} ({'avalanche' if m.avalanche else 'failed'})"
        for W, m in zip(data["W"], maps)
    ]
    return {"fig4_entropy_maps": plot_fig4(maps, titles=titles)}
