"""Bare couplings of the 2D lattice: realizations per second, fast path vs dense eigh.

Both paths compute g0 |phi_k(0)| for QP realizations (theta0 drawn uniformly) through
the same jitted, vmapped ``bare_couplings``, in the same run; the fast path's result is
checked against eigh (max abs difference of the couplings). Thread settings default to
one BLAS thread (set before numpy/jax load; override with the environment variables).

    python benchmarks/bench_lattice.py                 # R = 10, 15, 22, 33, 50
    python benchmarks/bench_lattice.py --radii 10,15   # smaller sizes only

Prints one JSON line.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxmf  # noqa: E402
from jaxmf.models import lattice  # noqa: E402


def _rate(fn, thetas, min_time):
    """Realizations per second of fn over batches of theta0 (compile excluded)."""
    out = fn(thetas).block_until_ready()  # compile
    done, start = 0, time.perf_counter()
    while True:
        out = fn(thetas).block_until_ready()
        done += len(thetas)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return done / elapsed, np.array(out, copy=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radii", default="10,15,22,33,50", help="comma-separated R")
    parser.add_argument("--W", type=float, default=40.0, help="potential strength")
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="realizations per vmapped call (default: 8 below N=2000, else 1)",
    )
    parser.add_argument(
        "--min-time", type=float, default=2.0, help="seconds per measurement (at least one batch)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    results = []
    for R in [int(r) for r in args.radii.split(",")]:
        n = lattice.num_sites(R)
        batch = args.batch or (8 if n < 2000 else 1)
        thetas = jnp.asarray(rng.uniform(0, 2 * np.pi, batch))
        row = {"R": R, "N": n, "batch": batch, "auto": lattice.resolve_method("auto", n)}
        outs = {}
        for method in ("eigh", "fast"):
            fn = jax.jit(
                jax.vmap(
                    lambda t, m=method, R=R: lattice.bare_couplings(R, args.W, theta0=t, method=m)
                )
            )
            row[f"{method}_per_s"], outs[method] = _rate(fn, thetas, args.min_time)
        row["speedup"] = row["fast_per_s"] / row["eigh_per_s"]
        row["max_abs_diff"] = float(np.max(np.abs(outs["fast"] - outs["eigh"])))
        results.append(row)

    print(
        json.dumps(
            {
                "benchmark": "lattice_bare_couplings",
                "jaxmf": jaxmf.__version__,
                "jax": jax.__version__,
                "device": str(jax.devices()[0]),
                "backend": jax.default_backend(),
                "cpu": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(),
                "threads": {
                    v: os.environ.get(v)
                    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
                },
                "W": args.W,
                "kind": "qp",
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
