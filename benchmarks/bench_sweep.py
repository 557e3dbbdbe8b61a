"""End-to-end sweep rate: realizations per second of ``jaxmf.analysis.ensemble.sweep``.

Everything a sweep does per realization is timed: couplings (auto path: the banded host
path on CPU from N >= 200), the mean-field solve, the observables, the sharded call and
the chunk files (written to a temporary directory). Compilation is excluded by a warm-up
sweep with the same shapes. Thread settings default to one BLAS/OpenMP thread (set
before numpy/jax load; override with the environment variables) and are reported.

    python benchmarks/bench_sweep.py                     # R = 10, 15, 22, QP and random
    python benchmarks/bench_sweep.py --radii 10 --draws 64

Prints one JSON line.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402

import jaxmf  # noqa: E402
from jaxmf.analysis import ensemble  # noqa: E402
from jaxmf.models import lattice  # noqa: E402


def _run(root, name, kind, R, W, draws, chunk):
    kw = dict(kind=kind, R=[R], W=W, n_draws=draws, chunk_size=chunk, progress=False)
    if kind == "random":
        kw["seed"] = 0
    return ensemble.sweep(os.path.join(root, name), **kw)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radii", default="10,15,22", help="comma-separated R")
    parser.add_argument("--kinds", default="qp,random")
    parser.add_argument(
        "--W", default="60,120", help="comma-separated W (one avalanching, one failing regime)"
    )
    parser.add_argument(
        "--draws",
        type=int,
        default=0,
        help="realizations per (W, R) (default: 128 for N < 500, 64 for N < 1100, else 16)",
    )
    args = parser.parse_args(argv)
    W = [float(w) for w in args.W.split(",")]

    results = []
    with tempfile.TemporaryDirectory() as root:
        for kind in args.kinds.split(","):
            for R in [int(r) for r in args.radii.split(",")]:
                n = lattice.num_sites(R)
                draws = args.draws or (128 if n < 500 else 64 if n < 1100 else 16)
                n_dev = len(jax.local_devices())
                chunk = min(ensemble.default_chunk_size(n, n_dev), draws)
                chunk = -(-chunk // n_dev) * n_dev  # what sweep uses
                _run(root, f"warm-{kind}-{R}", kind, R, W, min(draws, chunk), chunk)
                t0 = time.perf_counter()
                res = _run(root, f"{kind}-{R}", kind, R, W, draws, chunk)
                elapsed = time.perf_counter() - t0
                total = len(W) * draws
                results.append(
                    {
                        "kind": kind,
                        "R": R,
                        "N": n,
                        "realizations": total,
                        "chunk_size": chunk,
                        "method": lattice.resolve_method("auto", n),
                        "seconds": round(elapsed, 3),
                        "per_s": round(total / elapsed, 2),
                        "f_aval": [round(float(x), 3) for x in res.avalanche.mean(-1)[:, 0]],
                        "all_converged": bool(res.converged.all()),
                    }
                )

    print(
        json.dumps(
            {
                "benchmark": "lattice_sweep_end_to_end",
                "jaxmf": jaxmf.__version__,
                "jax": jax.__version__,
                "device": str(jax.devices()[0]),
                "n_devices": len(jax.local_devices()),
                "backend": jax.default_backend(),
                "cpu": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(),
                "threads": {
                    v: os.environ.get(v)
                    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
                },
                "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
                "W": W,
                "g0": 1.0,
                "dist": "goe",
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
