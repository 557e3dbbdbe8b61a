"""A short f_aval tail of the random 1D chain and 3D octahedral lattice (g0 = 1).

The rare-event tools of docs/rare_avalanches.md on the built-in models beyond the paper
(docs/models_beyond_paper.md): subset simulation on the exact critical grain coupling
log g0_c(V) (``rare.critical.gaussian_scorer``, fold solver), two move kernels per W
("lattice": pCN + local shifts; "resonance": the same mixed 50/50 with the resonance
moves), independent replicas pooled with the chi-square replica check
(``rare.replicas.combine``). V uniform on [-W, W], hopping 1, grain on the origin, GOE.

Writes docs/data/rare_tail_models.json (one row per model, W and kernel, in the layout of
docs/data/rare_tail.json plus "model") after every row.

    OPENBLAS_NUM_THREADS=1 python docs/scripts/rare_tail_models.py [table]
"""

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxmf.analysis.rare import moves, replicas, subset
from jaxmf.analysis.rare.critical import gaussian_scorer
from jaxmf.models import FAMILIES

jax.config.update("jax_enable_x64", True)

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "data" / "rare_tail_models.json"
CASES = [  # (family, R, W grid)
    ("chain", 20, (10.0, 20.0, 30.0, 40.0)),
    ("cubic", 3, (200.0, 400.0, 800.0, 1600.0)),
]
KERNELS = ("lattice", "resonance")
M, N_LEVEL, THIN, MAX_LEVELS = 4, 500, 5, 16


def row(name, R, W, kernel, seed):
    model = FAMILIES[name](R)
    score_fn = gaussian_scorer(model)

    def score(z):
        return np.asarray(score_fn(jnp.asarray(z), jnp.float64(W)).log_scale)

    runs, secs = [], []
    for r in range(M):
        t0 = time.time()
        runs.append(
            subset.run(
                score,
                model.N,
                key=jax.random.fold_in(jax.random.key(seed), r),
                n=N_LEVEL,
                stop=0.0,
                max_levels=MAX_LEVELS,
                propose=moves.proposal(model, kernel),
                thin=THIN,
                chunk=50,
            )
        )
        secs.append(time.time() - t0)
    e = replicas.combine(runs, 0.0, warn=False)
    return {
        "model": name,
        "W": W,
        "R": R,
        "N": model.N,
        "g0": 1.0,
        "kernel": kernel,
        "thin": THIN,
        "f": e.f if e.check.passed else None,  # a failed row has no value
        "err": e.err if e.check.passed else None,
        "replicas": e.replicas.tolist(),
        "min_distinct_states": e.min_distinct,
        "passed": bool(e.check.passed),
        "chi2_p": e.check.p_value,
        "levels": [len(r.thresholds) for r in runs],
        "n": N_LEVEL,
        "acceptance": np.nanmean(e.acceptance, axis=0).tolist(),
        "seconds_per_replica": secs,
    }


def main():
    rows = json.loads(OUT.read_text()) if OUT.exists() else []
    done = {(r["model"], r["W"], r["kernel"]) for r in rows}
    for i, (name, R, Ws) in enumerate(CASES):
        for W in Ws:
            for j, kernel in enumerate(KERNELS):
                if (name, W, kernel) in done:
                    continue
                r = row(name, R, W, kernel, seed=1000 * i + 100 * j + int(W))
                rows.append(r)
                OUT.write_text(json.dumps(rows, indent=1))
                print(
                    f"{name} R={R} W={W:g} {kernel}: f = {r['f']} +- {r['err']} "
                    f"(replicas {', '.join(f'{x:.2g}' for x in r['replicas'])}; "
                    f"p = {r['chi2_p']:.2g}, levels {r['levels']})",
                    flush=True,
                )


def table(rows):
    """The markdown table of docs/rare_avalanches.md (one line per row)."""
    out = [
        "| model | R | N | W | kernel | f_aval | replica error | replicas | levels "
        "| chi-square p | replica check |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["model"], r["W"], r["kernel"])):
        ok = r["passed"] and (r["f"] or 0) > 0
        out.append(
            f"| {r['model']} | {r['R']} | {r['N']} | {r['W']:g} | {r['kernel']} | "
            f"{format(r['f'], '.3g') if ok else 'failed'} | "
            f"{format(r['err'], '.2g') if ok else '-'} | "
            f"{', '.join(f'{x:.2g}' for x in r['replicas'])} | "
            f"{'/'.join(str(x) for x in r['levels'])} | {r['chi2_p']:.2g} | "
            f"{'passes' if ok else 'FAILS'} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["table"]:
        print(table(json.loads(OUT.read_text())))
    else:
        main()
