"""Beyond the paper: the mean-field avalanche threshold of other lattices and potentials.

For the 1D chain (triangle and cosine potentials), the 2D lattice (cosine, next to the
paper's triangle) and the 3D octahedral lattice (triangle):

* QP: W_th = sup over theta0 of the largest avalanching W (``thresholds.sup_threshold``,
  a coarse grid of 16 phases and 1 zoom level of 7 phases on the best), at two radii R;
* random: f_aval(W) at g0 = 1 from ``ensemble.sweep`` (40 draws per W, seed 2026).

Writes docs/data/models_beyond_paper.json and docs/models_beyond_paper.png.

    nice python docs/scripts/models_beyond_paper.py [--quick]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from jaxmf._io import to_builtin
from jaxmf.analysis import ensemble, thresholds
from jaxmf.models import FAMILIES

HERE = Path(__file__).resolve().parent.parent
CASES = [  # (family, potential, radii)
    ("chain", "triangle", (10, 20)),
    ("chain", "cosine", (10, 20)),
    ("square", "triangle", (3, 5)),
    ("square", "cosine", (3, 5)),
    ("cubic", "triangle", (2, 3)),
]
RANDOM = [("chain", "triangle", 20), ("square", "triangle", 5), ("cubic", "triangle", 3)]
W_RANDOM = (5.0, 20.0, 80.0)


def qp_rows(quick):
    rows = []
    for name, potential, radii in CASES:
        for R in radii[:2] if quick else radii:
            model = FAMILIES[name](R, potential)
            t0 = time.time()
            try:
                s = thresholds.sup_threshold(
                    model,
                    n_theta=16,
                    n_starts=1,
                    n_zoom=1,
                    n_local=7,
                    rtol=1e-3,
                    W_grid=np.geomspace(0.5, 4000.0, 41),
                )
            except (ValueError, RuntimeError) as err:
                rows.append(dict(model=name, potential=potential, R=R, N=model.N, error=str(err)))
                continue
            rows.append(
                dict(
                    model=name,
                    potential=potential,
                    R=R,
                    N=model.N,
                    W_th=s.sup,
                    err=s.err,
                    theta_star=s.theta_star,
                    seconds=time.time() - t0,
                )
            )
            print(rows[-1], flush=True)
    return rows


def random_rows(quick, root):
    rows = []
    for name, potential, R in RANDOM:
        M = 16 if quick else 40
        res = ensemble.sweep(
            root / f"{name}_{potential}_R{R}",
            model=FAMILIES[name],
            R=[R],
            kind="random",
            W=list(W_RANDOM),
            n_draws=M,
            seed=2026,
            progress=False,
        )
        avg = ensemble.ensemble_average(res)
        for iW, W in enumerate(res.W):
            rows.append(
                dict(
                    model=name,
                    potential=potential,
                    R=R,
                    N=int(res.N[0]),
                    W=float(W),
                    f_aval=float(avg.f_aval[iW, 0]),
                    f_aval_err=float(avg.f_aval_err[iW, 0]),
                    M=int(avg.n[iW, 0]),
                    eta_ratio=float(avg.eta_ratio[iW, 0]),
                )
            )
        print(rows[-len(res.W) :], flush=True)
    return rows


def plot(data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for name, potential, _ in CASES:
        r = [
            x
            for x in data["qp"]
            if x["model"] == name and x["potential"] == potential and "W_th" in x
        ]
        a.errorbar(
            [x["N"] for x in r],
            [x["W_th"] for x in r],
            [x["err"] for x in r],
            marker="o",
            label=f"{name}, {potential}",
        )
    a.set(xscale="log", yscale="log", xlabel="N (sites)", ylabel="QP W_th (sup over theta0)")
    a.legend(fontsize=8)
    for name, _, R in RANDOM:
        r = [x for x in data["random"] if x["model"] == name]
        b.errorbar(
            [x["W"] for x in r],
            [x["f_aval"] for x in r],
            [x["f_aval_err"] for x in r],
            marker="o",
            label=f"{name} R={R}",
        )
    b.set(xscale="log", ylim=(-0.05, 1.05), xlabel="W", ylabel="random f_aval (g0 = 1)")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", default="runs/models_beyond_paper")
    a = p.parse_args()
    data = {"qp": qp_rows(a.quick), "random": random_rows(a.quick, Path(a.runs))}
    data["settings"] = dict(quick=a.quick, W_random=W_RANDOM, seed=2026, g0=1.0, dist="goe")
    out = HERE / "data" / "models_beyond_paper.json"
    out.write_text(json.dumps(to_builtin(data), indent=1) + "\n")
    plot(data, HERE / "models_beyond_paper.png")


if __name__ == "__main__":
    main()
