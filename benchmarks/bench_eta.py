"""Throughput of the tabulated, jitted eta(g) vs direct per-point quadrature with scipy.

The scipy reference evaluates (A27) for the poisson family (closed-form density) as a
nested adaptive quadrature in (log x_a, log x_b) per value of g — what one would write
without a table. Prints one JSON line: values/s for both and their ratio.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_eta.py [--n 10000000]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import best_time, emit
from scipy import integrate

import jaxmf


def eta_scipy(g: float) -> float:
    """eta(g) for ptilde_poisson by scipy dblquad over u = log x (per point)."""

    def dens(u):  # density of u = log x
        x = np.exp(u)
        return 2.0 / x * np.exp(-np.pi / x**2)

    def P(ga):
        s = np.sqrt(1 + 4 * ga * ga)
        return 2 * ga * ga / (s * (1 + s))

    def km1(ua, ub):
        pa, pb = P(g * np.exp(ua)), P(g * np.exp(ub))
        d = pa + pb - 2 * pa * pb
        return (np.sqrt(d) - d / (1 + np.sqrt(1 - d))) * dens(ua) * dens(ub)

    lo, hi = np.log(0.2), np.log(1e6 / min(g, 1.0)) + 5
    val, _ = integrate.dblquad(km1, lo, hi, lo, hi, epsabs=1e-13, epsrel=1e-10)
    return 2 * np.log1p(val)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000, help="values per jitted call")
    ap.add_argument("--scipy-points", type=int, default=3)
    args = ap.parse_args()

    g = jnp.asarray(10 ** np.random.default_rng(0).uniform(-8, 3, args.n))
    f = jax.jit(lambda x: jaxmf.eta(x, "poisson"))
    f(g).block_until_ready()
    t_jax = best_time(lambda: f(g).block_until_ready())

    g_sp = 10 ** np.linspace(-3, 1, args.scipy_points)
    t0 = time.perf_counter()
    ref = np.array([eta_scipy(x) for x in g_sp])
    t_sp = (time.perf_counter() - t0) / args.scipy_points
    err = float(np.max(np.abs(ref - np.asarray(jaxmf.eta(g_sp, "poisson"))) / ref))

    per_jax = t_jax / args.n
    emit(
        "eta",
        {
            "n_values": args.n,
            "jax_seconds": t_jax,
            "jax_values_per_s": args.n / t_jax,
            "scipy_seconds_per_value": t_sp,
            "scipy_values_per_s": 1.0 / t_sp,
            "speedup": t_sp / per_jax,
            "max_rel_diff_table_vs_scipy": err,
        },
    )


if __name__ == "__main__":
    main()
