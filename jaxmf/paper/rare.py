"""Rare avalanches (Sec. VII): random lattices keep avalanching past the QP threshold."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from ..analysis.rare import THIN, f_aval_tail, fit_tail
from ..analysis.thresholds import sup_threshold
from .report import Row, holds, stage, within

TITLE = "Rare avalanches"
QUICK = {
    "R": 10,
    "W": [120.0, 150.0, 200.0],
    "n": 200,
    "replicas": 3,
    "thin": 3,
    "qp": dict(n_theta=16, n_starts=2, n_zoom=3, rtol=1e-3),
}
FULL = {
    "R": 10,
    "W": [120.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0],
    "n": 1000,
    "replicas": 3,
    "thin": THIN,
    "qp": dict(n_theta=64, n_starts=4, n_zoom=5, rtol=1e-4),
}


def compute(quick: bool, workdir: Path, progress: bool = False):
    """f_aval(W) of random lattices by subset simulation, and sup W_th of QP ones."""
    del workdir
    sizes = QUICK if quick else FULL
    R, Ws, n, reps, thin = (sizes[k] for k in ("R", "W", "n", "replicas", "thin"))
    qp_kw = sizes["qp"]
    stage(progress, f"subset simulation, R = {R}, W = {Ws}, {reps} replicas")
    curve = [
        r._asdict()
        for r in f_aval_tail(
            R,
            Ws,
            key=jax.random.key(7),
            g0=(1.0, 0.5),
            n=n,
            replicas=reps,
            thin=thin,
            progress=progress,
        )
    ]
    stage(progress, f"sup over theta0 of the QP threshold, R = {R}")
    sup = sup_threshold(R, g0=1.0, W_grid=np.geomspace(40.0, 1000.0, 25), **qp_kw)
    qp = [{"R": R, "g0": 1.0, "sup": sup.sup, "err": sup.err, "theta_star": sup.theta_star}]
    data = {
        "random": curve,
        "qp": qp,
        "qp_map": {
            "R": R,
            "theta0": sup.coarse.theta0,
            "W_th": sup.coarse.W_th,
            "zooms": [z._asdict() for z in sup.zooms],
        },
    }
    g1 = [r for r in curve if r["g0"] == 1.0]
    fit = fit_tail([r for r in g1 if r["reliable"]])
    above = [r for r in g1 if r["W"] > sup.sup]
    seen = [r for r in above if r["reliable"] and r["f"] > 2 * r["stderr"]]
    rows = [
        Row(
            "Random potentials avalanche with f_aval > 0 at every W (Sec. VII)",
            "f_aval > 0 for all W (no number)",
            f"R={R}, g0=1 (subset simulation, {reps} replicas x {n}/level, thin {thin}, "
            "goe): "
            + ", ".join(
                f"f({r['W']:g}) = {r['f']:.2g}+-{r['stderr']:.1g}{'' if r['reliable'] else '*'}"
                for r in g1
            )
            + (
                ""
                if all(r["reliable"] for r in g1)
                else " (* not reliable, rare.reliable: indication only)"
            )
            + (
                f"; log f ~ -W/W_1, W_1 = {fit.exp[0]:.0f}+-{fit.exp[1]:.0f}"
                f" (chi2/dof {fit.exp[2]:.1f}); power law exponent "
                f"{fit.power[0]:.0f}+-{fit.power[1]:.0f} (chi2/dof {fit.power[2]:.1f})"
                if np.isfinite(fit.exp[0])
                else ""
            ),
            "a reliable f > 2 sigma at some W above the QP sup W_th",
            holds(seen),
        ),
        Row(
            "QP potentials: no avalanche above a finite W_th (Sec. VII)",
            "W_th ~ 45 (g0=1)",
            f"sup_theta0 W_th = {sup.sup:.2f} +- {sup.err:.2f} (R={R}, g0=1, goe; "
            f"theta0* = {sup.theta_star:.5f})",
            "+- 15",
            within(sup.sup, 45.0, 15.0, sup.err),
        ),
    ]
    return data, rows


def plot(data) -> dict:
    from ..plot._axes import pyplot
    from ..plot.rare import plot_rare, plot_threshold_map

    fig, axs = pyplot().subplots(1, 2, figsize=(8.6, 3.5), constrained_layout=True)
    plot_rare(data, axs[0])
    plot_threshold_map(data["qp_map"], axs[1])
    return {"rare_avalanches": fig}
