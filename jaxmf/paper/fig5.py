"""Fig. 5: quasiperiodic avalanches stop above W_th, random ones do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import ensemble
from .report import Row, holds, stage, within

TITLE = "Fig. 5: QP vs random"
QUICK = {"R": (6, 10), "n": 32, "n_theta": 128}
FULL = {"R": (10, 15, 22), "n": 128, "n_theta": 512}


def compute(quick: bool, workdir: Path, progress: bool = False):
    """QP and random sweeps over W x R (resumable, kept in ``workdir``) and fine theta0
    scans above and below the QP threshold."""
    root = Path(workdir)
    sizes = QUICK if quick else FULL
    Rs, n, n_theta = sizes["R"], sizes["n"], sizes["n_theta"]
    Ws = (40.0, 60.0, 80.0, 100.0, 120.0, 140.0, 160.0)
    common: dict[str, Any] = dict(R=list(Rs), W=list(Ws), progress=progress)
    stage(progress, f"sweeps: QP and random, R = {list(Rs)}, {len(Ws)} W, {n} samples")
    qp = ensemble.sweep(root / "sweep_qp", kind="qp", theta0=ensemble.theta_grid(n), **common)
    rnd = ensemble.sweep(root / "sweep_random", kind="random", n_draws=n, seed=2022, **common)
    stage(progress, f"theta0 scans at W = 140 and 80 ({n_theta} phases)")
    for name, W in (("theta_high", 140.0), ("theta_low", 80.0)):
        ensemble.sweep(
            root / name,
            kind="qp",
            R=[Rs[-1]],
            W=[W],
            theta0=ensemble.theta_grid(n_theta),
            progress=progress,
        )
    fq, fr = ensemble.ensemble_average(qp).f_aval, ensemble.ensemble_average(rnd).f_aval
    W = np.asarray(qp.W)
    qp_zero = W[np.all(fq == 0, axis=1)]
    w_zero = float(qp_zero.min()) if qp_zero.size else float("nan")
    beyond = W >= w_zero
    w_last = W[W < w_zero].max() if np.isfinite(w_zero) and (W < w_zero).any() else W[0]
    random_on = fr[beyond].max(axis=1) if beyond.any() else np.zeros(0)
    rows = [
        Row(
            "Fig. 5: QP avalanches stop above a finite W_th for every R; random ones do "
            "not stop at the same W",
            "no number",
            f"QP f_aval = 0 for all R at W >= {w_zero:g} ({n} theta0, R = {Rs}); random "
            "at those W: f_aval = " + ", ".join(f"{x:.3f}" for x in random_on),
            "QP: f_aval = 0 from some grid W on; random: f_aval > 0 there",
            holds(np.isfinite(w_zero) and random_on.size and random_on.min() > 0),
        ),
        Row(
            "Fig. 5: the QP threshold W_th (g0 = 1)",
            "W_th ~ 45",
            f"W_th in ({w_last:g}, {w_zero:g}] (the last grid W with an avalanche, the "
            "first without)",
            "+- 15 around the bracket's middle, + half its width",
            within(0.5 * (w_last + w_zero), 45.0, 15.0 + 0.5 * (w_zero - w_last))
            if np.isfinite(w_zero)
            else "differs",
        ),
    ]
    data = {
        "paths": {
            k: str(root / k) for k in ("sweep_qp", "sweep_random", "theta_high", "theta_low")
        },
        "W": W,
        "R": list(Rs),
        "f_aval_qp": fq,
        "f_aval_random": fr,
    }
    return data, rows


def plot(data) -> dict:
    from ..plot.lattice import plot_fig5

    res = {k: ensemble.load(v) for k, v in data["paths"].items()}
    return {
        "fig5_qp_vs_random": plot_fig5(
            res["sweep_qp"],
            res["sweep_random"],
            theta_high=res["theta_high"],
            theta_low=res["theta_low"],
        )
    }
