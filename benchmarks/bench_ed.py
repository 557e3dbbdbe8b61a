"""Time per realization of the DRH chain ED vs N: batched JAX path vs scipy.linalg.eigh.

JAX: `jaxmf.models.ed.drh_ensemble` (build H, eigh, end-spin observables), compiled
once per N (compile time reported separately). scipy: `scipy.linalg.eigh` on the same
Hamiltonians (built beforehand, not timed), drivers "evd" (the LAPACK routine JAX calls
on CPU) and "evr" (scipy's default), plus the same observables in NumPy. Prints ONE
JSON line (progress goes to stderr).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_ed.py [--min-N 5] [--max-N 8]

Thread settings are read from the environment (or set with --threads before numpy and
jax are imported) and recorded in the JSON.
"""

import argparse
import json
import os
import sys
import time


def _end_entropy_numpy(V):
    """End-spin entropy of each column of V, NumPy twin of ed.end_spin_observables."""
    import numpy as np

    v = V.reshape(V.shape[0] // 2, 2, V.shape[1])
    p, q = np.sum(v[:, 0] ** 2, 0), np.sum(v[:, 1] ** 2, 0)
    c2 = np.sum(v[:, 0] * v[:, 1], 0) ** 2
    lam_max = 0.5 + np.sqrt(0.25 * (p - q) ** 2 + c2)
    lam = np.clip((p * q - c2) / lam_max, 0.0, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nan_to_num(lam * np.log(lam)) - (1 - lam) * np.log1p(-lam)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-N", type=int, default=5)
    ap.add_argument("--max-N", type=int, default=8, help="N = 10 is D = 8192 (minutes each)")
    ap.add_argument(
        "--samples",
        type=int,
        default=None,
        help="realizations per N (default: 8 up to N = 7, then halving)",
    )
    ap.add_argument("--alpha", type=float, default=0.7)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="set OPENBLAS/OMP/MKL thread counts before importing numpy and jax",
    )
    args = ap.parse_args(argv)
    if args.threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import jax
    import numpy as np
    import scipy
    import scipy.linalg

    import jaxmf  # noqa: F401  (float64)
    from jaxmf.models import ed

    rows = []
    for N in range(args.min_N, args.max_N + 1):
        n = args.samples or max(1, 8 >> max(0, N - 7))
        keys = jax.random.split(jax.random.key(N), n)

        t0 = time.perf_counter()  # first call: compile + run
        jax.block_until_ready(ed.drh_ensemble(N, args.alpha, key=keys))
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = jax.block_until_ready(ed.drh_ensemble(N, args.alpha, key=keys))
        t_jax = (time.perf_counter() - t0) / n

        Hs = [np.asarray(ed.drh_hamiltonian(N, args.alpha, key=k)) for k in keys]
        t_sp = {}
        for driver in ("evd", "evr"):
            scipy.linalg.eigh(Hs[0][:64, :64], driver=driver)  # warm-up
            t0 = time.perf_counter()
            for H, S_ref in zip(Hs, np.asarray(res.entropy)):
                E, V = scipy.linalg.eigh(H, driver=driver)
                S = _end_entropy_numpy(V)
                # same physics from both paths (entropies are basis-sign invariant)
                assert np.allclose(S, S_ref, atol=1e-6), "scipy and JAX disagree"
            t_sp[driver] = (time.perf_counter() - t0) / n
        rows.append(
            dict(
                N=N,
                D=8 * 2**N,
                samples=n,
                jax_s=round(t_jax, 5),
                jax_compile_s=round(max(first - n * t_jax, 0.0), 3),
                scipy_evd_s=round(t_sp["evd"], 5),
                scipy_evr_s=round(t_sp["evr"], 5),
                ratio_jax_over_scipy_evd=round(t_jax / t_sp["evd"], 3),
                ratio_jax_over_scipy_evr=round(t_jax / t_sp["evr"], 3),
            )
        )
        print(f"N={N}: {rows[-1]}", file=sys.stderr)

    print(
        json.dumps(
            dict(
                benchmark="ed_time_per_realization",
                alpha=args.alpha,
                results=rows,
                threads={
                    v: os.environ.get(v, "unset")
                    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
                },
                XLA_FLAGS=os.environ.get("XLA_FLAGS", "unset"),
                cpu_count=os.cpu_count(),
                device=str(jax.devices()[0]),
                jax=jax.__version__,
                numpy=np.__version__,
                scipy=scipy.__version__,
            )
        )
    )


if __name__ == "__main__":
    main()
