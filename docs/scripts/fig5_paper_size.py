"""Fig. 5(a, b) at the paper's ensemble sizes for R = 10 and 12: summary and plot.

Reads the sweeps made by

    from jaxmf.analysis import ensemble
    W = [40, 60, 80, 100, 120, 140, 160]         # R = 12: ordered 120, 100, 140, 80, 160, 60, 40
    ensemble.sweep("runs/qp_R10", kind="qp", R=[10], W=W, theta0=ensemble.theta_grid(27000))
    ensemble.sweep("runs/random_R10", kind="random", R=[10], W=W, n_draws=27000, seed=2022)
    (R = 12: M = 26000; the paper's M for R = 10, 12)

(resumable: a partial sweep is summarized over its complete realizations, and the
number used per point is reported) and writes docs/data/fig5_paper_R10_R12.json and
docs/fig5_paper_R10_R12.png.

    python docs/scripts/fig5_paper_size.py RUNS_DIR
"""

import json
import sys
from pathlib import Path

import numpy as np

from jaxmf._io import to_builtin
from jaxmf.analysis import ensemble

HERE = Path(__file__).resolve().parent.parent


def summarize(runs):
    rows = []
    for kind in ("qp", "random"):
        for R in (10, 12):
            path = Path(runs) / f"{kind}_R{R}"
            if not (path / "manifest.json").exists():
                continue
            res = ensemble.load(path)
            avg = ensemble.ensemble_average(res)
            M = res.parameters["n_draws"]
            for i in np.argsort(res.W):
                n = int(avg.n[i, 0])
                if not res.complete[i, 0].all():  # only W points with all M realizations
                    continue
                rows.append(
                    {
                        "kind": kind,
                        "R": R,
                        "N": int(res.N[0]),
                        "W": float(res.W[i]),
                        "M": M,
                        "n": n,
                        "n_unconverged": int(avg.n_unconverged[i, 0]),
                        "eta_mean": float(avg.eta_mean[i, 0]),
                        "eta_sem": float(avg.eta_sem[i, 0]),
                        "f_aval": float(avg.f_aval[i, 0]),
                        "f_aval_err": float(avg.f_aval_err[i, 0]),
                    }
                )
    return rows


def plot(rows, path):
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for ax, kind, title in ((axs[0], "qp", "(a) quasiperiodic"), (axs[1], "random", "(b) random")):
        twin = ax.twinx()
        for R, marker in ((10, "o"), (12, "s")):
            rr = [r for r in rows if r["kind"] == kind and r["R"] == R]
            if not rr:
                continue
            W = np.array([r["W"] for r in rr])
            line = ax.errorbar(
                W,
                [r["eta_mean"] for r in rr],
                yerr=[r["eta_sem"] for r in rr],
                marker=marker,
                ms=3,
                lw=1,
                capsize=2,
                label=f"R={R} (M={rr[0]['M']})",
            )[0]
            twin.errorbar(
                W,
                [r["f_aval"] for r in rr],
                yerr=[r["f_aval_err"] for r in rr],
                ls="--",
                lw=1,
                color=line.get_color(),
            )
        ax.set_yscale("log")
        ax.set_xlabel("W")
        ax.set_ylabel("[eta_tot] (nats)")
        twin.set_ylabel("f_aval (dashed)")
        twin.set_ylim(-0.02, 1.02)
        ax.set_title(f"{title}, g0 = 1, goe", fontsize=10)
        ax.legend(fontsize=8, loc="lower left")
    fig.savefig(path, dpi=120)


def main(runs):
    rows = summarize(runs)
    out = HERE / "data" / "fig5_paper_R10_R12.json"
    out.write_text(json.dumps(to_builtin({"rows": rows}), indent=1))
    plot(rows, HERE / "fig5_paper_R10_R12.png")
    print("| kind | R | W | n / M | [eta_tot] | f_aval |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        # every lattice fully thermal: eta_tot = N log 2 exactly, the spread is round-off
        sem = r["eta_sem"] if r["eta_sem"] > 1e-12 * r["eta_mean"] else 0.0
        print(
            f"| {r['kind']} | {r['R']} | {r['W']:g} | {r['n']} / {r['M']} | "
            f"{r['eta_mean']:.4g} +- {sem:.2g} | "
            f"{r['f_aval']:.4f} +- {r['f_aval_err']:.4f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs")
