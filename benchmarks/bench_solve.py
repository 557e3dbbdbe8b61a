"""Batched mean-field solve vs a per-realization NumPy loop of iteration (13).

4096 DRH chains (N = 200, g_{1,0} = 1/2) with delta alpha on a uniform grid in
[-0.2, 0.05]: localized chains, failed avalanches of every size, the finite-N
threshold, and full avalanches. The baseline is the textbook method: for each chain,
iterate (13) in log g with np.interp on the same eta table until
max |change of log g| < 1e-12. Prints one JSON line (wall times, ratio, max
iterations, agreement).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_solve.py [--chains 4096] [--N 200]
"""

import argparse
import time

import numpy as np
from _common import emit

import jaxmf
from jaxmf.enhancement import _eta_table
from jaxmf.models import chain


def numpy_plain_iteration(log_g0, dist="goe", tol=1e-12, max_steps=200_000):
    """Iteration (13) for each chain in a Python loop. Returns (eta_tot, steps)."""
    tab = _eta_table(dist)
    nodes = tab.u0 + tab.du * np.arange(tab.log_eta.size)
    log_eta = tab.log_eta
    H_out, steps = np.empty(len(log_g0)), np.empty(len(log_g0), int)
    for r, l0 in enumerate(log_g0):
        l = l0.copy()
        for k in range(max_steps):  # noqa: B007  (k counts the steps, read below)
            e = np.exp(np.interp(l, nodes, log_eta, left=-np.inf, right=log_eta[-1]))
            new = l0 + 0.5 * (e.sum() - e)
            if np.max(np.abs(new - l)) < tol:
                break
            l = new
        H_out[r], steps[r] = e.sum(), k + 1
    return H_out, steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=4096)
    ap.add_argument("--N", type=int, default=200)
    args = ap.parse_args()

    dalpha = np.linspace(-0.2, 0.05, args.chains)
    log_g0 = np.asarray(chain.drh_log_couplings(args.N, chain.ALPHA_C + dalpha))

    jaxmf.solve(log_g0[:8], log_input=True).eta_tot.block_until_ready()  # compile
    t0 = time.perf_counter()
    res = jaxmf.solve(log_g0, log_input=True)
    res.eta_tot.block_until_ready()
    t_jax = time.perf_counter() - t0
    # a second shape compiles again; time the warm call on the full batch too
    t0 = time.perf_counter()
    jaxmf.solve(log_g0, log_input=True).eta_tot.block_until_ready()
    t_jax_warm = time.perf_counter() - t0

    t0 = time.perf_counter()
    H_np, steps_np = numpy_plain_iteration(log_g0)
    t_np = time.perf_counter() - t0

    H = np.asarray(res.eta_tot)
    emit(
        "solve",
        {
            "chains": args.chains,
            "N": args.N,
            "jax_seconds_first_call": t_jax,
            "jax_seconds": t_jax_warm,
            "jax_max_iterations": int(res.iterations.max()),
            "jax_mean_iterations": float(res.iterations.mean()),
            "jax_unconverged": int((~np.asarray(res.converged)).sum()),
            "numpy_seconds": t_np,
            "numpy_max_iterations": int(steps_np.max()),
            "numpy_mean_iterations": float(steps_np.mean()),
            "speedup": t_np / t_jax_warm,
            "max_abs_diff_eta_tot": float(np.max(np.abs(H - H_np))),
            "avalanche_fraction": float(np.asarray(jaxmf.meanfield.avalanches(res)).mean()),
        },
    )


if __name__ == "__main__":
    main()
