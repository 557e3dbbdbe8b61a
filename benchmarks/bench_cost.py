"""Cost model of the lattice ensembles: time and memory per realization versus N, and
the projected cost of the paper-size Fig. 5 dataset.

Measured on the default JAX device, one process pinned to one core (``sched_setaffinity``
before JAX starts; ``--no-pin`` to leave it free: XLA runs a batched dense eigh on
several cores) with one BLAS thread, per realization:

* spectral paths (eigenvalues and |phi_k(0)| of one lattice): ``fast`` (the banded host
  path of ``jaxmf.models.lattice``: band -> tridiagonal reduction, eigenvalues, first
  components), ``eigh`` (dense ``jnp.linalg.eigh``, all eigenvectors; LAPACK syevd on
  CPU), ``eigvalsh`` (``jnp.linalg.eigvalsh``: in JAX the same syevd call, eigenvectors
  computed and dropped) and ``tridiag`` (dense Householder tridiagonalization
  ``lax.linalg.tridiagonal``, which leaves site 0 fixed, then the tridiagonal's
  eigenvalues and the first components by twisted factorizations: the eigenvalues-only
  floor of a dense route, runnable on any device; checked against eigh);
* end to end (the sweep's jitted chunk: couplings + mean-field solve + observables) on
  the fast path at the paper's radii, and on the eigh path where measured;
* memory: XLA buffers per realization (slope of the compiled batch's temp + output
  buffers), the host path's NumPy peak (tracemalloc), and LAPACK workspace (formula).

Flop model (N sites, half-bandwidth kd = 2R + 2): band reduction without Q
6 N^2 kd, eigenvalues of the tridiagonal ~30 N^2, first components by twisted
factorizations ~30 N^2 (two passes); dense: tridiagonalization 4/3 N^3 (half of it
matrix-vector products: (4/3) N^3 bytes of memory traffic), syevd with eigenvectors
4/3 + 2 (back-transformation) + up to 4/3 (divide and conquer, less with deflation)
= 4.7 N^3 (QR iteration with vectors: ~9 N^3, Golub & Van Loan).

Projections of the paper's Fig. 5 dataset (M realizations at each R, n_W values of W,
QP and random): (a) one machine of ``--cores`` cores (one process per core at
``--efficiency``, bench_distributed's measured throughput per process relative to one
process alone on one core), (b) k such processes, (c) one GPU by a roofline for a dense
path: per realization
(4/3) N^3 bytes / bandwidth + (flops - 2/3 N^3) / (efficiency x FP64 rate), plus, for a
solver that handles one matrix per call, N x ``--gpu-step-latency`` (the N sequential
Householder steps of the tridiagonalization, a few kernel launches each), and the batch
that fits in ``--gpu-memory-fraction`` of its memory (``--gpu-copies`` N^2 doubles per
realization).

    python benchmarks/bench_cost.py                               # CPU sizes
    python benchmarks/bench_cost.py --dense-radii 10,22,33,50     # on a GPU

Prints one JSON line.
"""

from __future__ import annotations

import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
PINNED = "--no-pin" not in sys.argv and hasattr(os, "sched_setaffinity")
if PINNED:  # before JAX starts its threads: all of them stay on this core
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.scipy.linalg import eigh_tridiagonal  # noqa: E402

import jaxmf  # noqa: E402, F401  (float64)
from jaxmf.analysis import ensemble  # noqa: E402
from jaxmf.models import lattice, spectral, square  # noqa: E402
from jaxmf.models._banded import first_components  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit  # noqa: E402

# Fig. 5 of the paper: thousands of realizations per radius (per W and kind)
PAPER_M = {10: 27, 12: 26, 15: 15, 18: 10, 22: 20, 27: 40, 33: 10, 41: 5, 50: 3}
GPUS = {
    "H100 SXM": dict(fp64_tflops=67.0, bandwidth_tbs=3.35, memory_gib=80.0),
    "H200": dict(fp64_tflops=67.0, bandwidth_tbs=4.8, memory_gib=141.0),
}


def flops(path, N, R):
    """Model flop count of one realization's spectrum on ``path``."""
    kd = 2 * R + 2
    if path == "fast":
        return 6.0 * N * N * kd + 60.0 * N * N
    if path in ("eigh", "eigvalsh"):  # syevd with eigenvectors
        return (4.0 / 3.0 + 2.0 + 4.0 / 3.0) * N**3
    return 4.0 / 3.0 * N**3 + 60.0 * N * N  # tridiag


def _tridiag_spectrum(H):
    """Eigenvalues and |phi_k(0)| from the dense tridiagonal form (Q e_0 = e_0)."""
    _, d, e, _ = jax.lax.linalg.tridiagonal(H, lower=True)
    lam = eigh_tridiagonal(d, e, eigvals_only=True)
    return lam, first_components(d, e, lam)


def _spectral_fn(path, R, W):
    if path == "eigvalsh":
        return lambda t: jnp.linalg.eigvalsh(lattice.hamiltonian(R, W, theta0=t))
    if path == "tridiag":
        return lambda t: _tridiag_spectrum(lattice.hamiltonian(R, W, theta0=t))
    return lambda t: lattice.origin_spectrum(R, W, theta0=t, method=path)


def _check_tridiag(R, W):
    """max |difference| of (energies, |phi_k(0)|) between tridiag and eigh."""
    lam, amp = _tridiag_spectrum(lattice.hamiltonian(R, W, theta0=0.3))
    ref_lam, ref_amp = lattice.origin_spectrum(R, W, theta0=0.3, method="eigh")
    return float(max(jnp.abs(lam - ref_lam).max(), jnp.abs(amp - ref_amp).max()))


def _batch_for(seconds_per_real, min_time):
    return int(max(1, min(256, min_time / max(seconds_per_real, 1e-6))))


def _time_per_realization(fn, make_args, min_time):
    """Seconds per realization of fn over a batch sized to take ~min_time (compile
    excluded: a first call with batch 1, then a probe, then the timed batches)."""
    jax.block_until_ready(fn(*make_args(1)))
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*make_args(1)))
    probe = time.perf_counter() - t0
    batch = _batch_for(probe, min_time)
    args = make_args(batch)
    jax.block_until_ready(fn(*args))  # compile at this batch
    best = np.inf
    for _ in range(2 if probe * batch < 30 else 1):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best / batch, batch


def _xla_bytes_per_realization(fn, R):
    """Slope of the compiled temp + output buffers between batch 1 and 8 (bytes)."""
    sizes = []
    for b in (1, 8):
        m = jax.jit(fn).lower(jnp.linspace(0.1, 1.0, b)).compile().memory_analysis()
        sizes.append(m.temp_size_in_bytes + m.output_size_in_bytes)
    return (sizes[1] - sizes[0]) / 7


def _host_bytes(R, W):
    """NumPy peak of the fast path's host part for one realization (tracemalloc)."""
    V = np.asarray(lattice.potential(R, W, theta0=0.3))
    tracemalloc.start()
    spectral._band_host(V, band=square(R).band)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def lapack_bytes(path, N):
    """LAPACK workspace of one realization (syevd: 1 + 6N + 2N^2 doubles and 3 + 5N
    ints with vectors; 2N + 1 doubles without), not in XLA's buffer count."""
    if path in ("eigh", "eigvalsh"):
        return 8 * (1 + 6 * N + 2 * N * N) + 4 * (3 + 5 * N)
    if path == "tridiag":
        return 8 * 64 * N  # sytrd: N x block size
    return 0


def measure_spectral(path, R, W, min_time):
    N = lattice.num_sites(R)
    f = jax.jit(jax.vmap(_spectral_fn(path, R, W)))
    rng = np.random.default_rng(R)
    sec, batch = _time_per_realization(
        f, lambda b: (jnp.asarray(rng.uniform(0, 2 * np.pi, b)),), min_time
    )
    xla = _xla_bytes_per_realization(jax.vmap(_spectral_fn(path, R, W)), R)
    host = _host_bytes(R, W) if path == "fast" else 0
    fl = flops(path, N, R)
    extra = {"max_abs_diff_vs_eigh": _check_tridiag(R, W)} if path == "tridiag" else {}
    return {
        "path": path,
        "R": R,
        "N": N,
        "kd": 2 * R + 2,
        "batch": batch,
        **extra,
        "seconds": sec,
        "per_s": 1.0 / sec,
        "model_flops": fl,
        "gflops": fl / sec / 1e9,
        "xla_bytes": xla,
        "host_bytes": host,
        "lapack_bytes": lapack_bytes(path, N),
        "bytes": xla + host + lapack_bytes(path, N),
    }


def measure_end_to_end(method, R, W, min_time):
    """The sweep's jitted chunk (couplings + solve + observables), one device."""
    fn = ensemble._chunk_function(R, "qp", "goe", method, 1e-13, 400, 1)
    rng = np.random.default_rng(R)

    def args(b):
        return (
            jnp.float64(W),
            jnp.float64(1.0),
            jnp.int64(0),
            jnp.asarray(rng.uniform(0, 2 * np.pi, b)),
        )

    sec, batch = _time_per_realization(fn, args, min_time)
    return {
        "method": method,
        "R": R,
        "N": lattice.num_sites(R),
        "batch": batch,
        "seconds": sec,
        "per_s": 1.0 / sec,
    }


def gpu_seconds(N, path, tflops, bandwidth_tbs, efficiency, step_latency=0.0):
    """Roofline seconds of one dense spectrum on a GPU: the matrix-vector half of the
    tridiagonalization at memory bandwidth, the rest at efficiency x the FP64 rate, plus
    N x step_latency for a solver that runs one matrix per call."""
    memory = (4.0 / 3.0) * N**3 / (bandwidth_tbs * 1e12)
    compute = (flops(path, N, 0) - 2.0 / 3.0 * N**3) / (efficiency * tflops * 1e12)
    return memory + compute + N * step_latency


def gpu_batch(N, memory_gib, fraction, copies):
    return int(fraction * memory_gib * 2**30 // (copies * 8 * N * N))


def per_realization(times, R):
    """Seconds per realization at radius R: measured, or log-log interpolated in N
    between the measured radii (extrapolated with the end slopes)."""
    if R in times:
        return times[R]
    Rs = sorted(times)
    x = np.log([lattice.num_sites(r) for r in Rs])
    y = np.log([times[r] for r in Rs])
    x0 = np.log(lattice.num_sites(R))
    if len(Rs) == 1:
        return float(np.exp(y[0] + 3.0 * (x0 - x[0])))
    k = int(np.clip(np.searchsorted(x, x0) - 1, 0, len(Rs) - 2))
    return float(np.exp(y[k] + (y[k + 1] - y[k]) / (x[k + 1] - x[k]) * (x0 - x[k])))


def project(e2e, args):
    """Projected cost of the Fig. 5 dataset from end-to-end seconds per realization."""
    per_R = {}
    for R, M in PAPER_M.items():
        n = 1000 * M * args.n_W * 2  # QP and random
        per_R[R] = {
            "N": lattice.num_sites(R),
            "realizations": n,
            "seconds_per_realization": per_realization(e2e, R),
            "measured": R in e2e,
            "core_hours": n * per_realization(e2e, R) / 3600,
        }
    core_h = sum(v["core_hours"] for v in per_R.values())
    eff = args.efficiency  # per process, from the P-process run of bench_distributed
    out = {
        "n_W": args.n_W,
        "kinds": 2,
        "realizations": sum(v["realizations"] for v in per_R.values()),
        "per_R": per_R,
        "one_core_hours": core_h,
        "parallel_efficiency": eff,
        "machine_hours": core_h / (args.cores * eff),
        "cores": args.cores,
        "k_processes_hours": {k: core_h / (k * eff) for k in (2, 16, 64, 256, 1024)},
    }
    gpus = {}
    for name, g in GPUS.items():
        for e in args.gpu_efficiency:
            for path in ("eigh", "tridiag"):
                for lat in (0.0, args.gpu_step_latency):
                    hours = (
                        sum(
                            v["realizations"]
                            * gpu_seconds(
                                v["N"], path, g["fp64_tflops"], g["bandwidth_tbs"], e, lat
                            )
                            for v in per_R.values()
                        )
                        / 3600
                    )
                    gpus[f"{name} eff={e:g} {path} latency={lat:g}"] = hours
        gpus[f"{name} batch (N=5101)"] = gpu_batch(
            5101, g["memory_gib"], args.gpu_memory_fraction, args.gpu_copies
        )
        gpus[f"{name} batch (N=1013)"] = gpu_batch(
            1013, g["memory_gib"], args.gpu_memory_fraction, args.gpu_copies
        )
    out["gpu_hours"] = gpus
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--W", type=float, default=60.0, help="potential strength")
    p.add_argument(
        "--fast-radii",
        default="5,10,15,22,33,50",
        help="radii of the fast (banded host) path, spectral only",
    )
    p.add_argument(
        "--dense-radii", default="5,10,15,22", help="radii of the eigh, eigvalsh and tridiag paths"
    )
    p.add_argument(
        "--e2e-radii",
        default=",".join(map(str, PAPER_M)),
        help="radii of the end-to-end measurement (fast path)",
    )
    p.add_argument(
        "--e2e-eigh-radii",
        default="10,15",
        help="radii of the end-to-end measurement on the eigh path",
    )
    p.add_argument("--min-time", type=float, default=1.0, help="seconds per timing")
    p.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    p.add_argument("--n-W", type=int, default=10, help="W values of the dataset")
    p.add_argument("--cores", type=int, default=2, help="cores of one machine")
    p.add_argument(
        "--efficiency",
        type=float,
        default=0.97,
        help="throughput per process of P processes over one process on one "
        "core (bench_distributed's efficiency)",
    )
    p.add_argument(
        "--gpu-efficiency",
        default="0.05,0.2",
        help="fractions of the FP64 peak reached by the batched dense eigh",
    )
    p.add_argument("--gpu-memory-fraction", type=float, default=0.5)
    p.add_argument(
        "--gpu-copies",
        type=float,
        default=4.0,
        help="N^2 doubles per realization of the dense eigh on the device",
    )
    p.add_argument(
        "--gpu-step-latency",
        type=float,
        default=1e-5,
        help="seconds per Householder step of a one-matrix-per-call solver",
    )
    a = p.parse_args(argv)
    a.gpu_efficiency = [float(x) for x in a.gpu_efficiency.split(",")]
    radii = lambda s: [int(r) for r in s.split(",") if r]  # noqa: E731

    jobs = [(measure_spectral, "fast", R) for R in radii(a.fast_radii)]
    jobs += [
        (measure_spectral, path, R)
        for path in ("eigh", "eigvalsh", "tridiag")
        for R in radii(a.dense_radii)
    ]
    jobs += [(measure_end_to_end, "fast", R) for R in radii(a.e2e_radii)]
    jobs += [(measure_end_to_end, "eigh", R) for R in radii(a.e2e_eigh_radii)]
    spectral, e2e = [], []
    for fn, path, R in jobs:
        try:
            row = fn(path, R, a.W, a.min_time)
        except Exception as err:  # noqa: BLE001  (e.g. a path this device lacks)
            row = {"path": path, "method": path, "R": R, "error": repr(err)[:300]}
        (spectral if fn is measure_spectral else e2e).append(row)
    fast_e2e = {r["R"]: r["seconds"] for r in e2e if r["method"] == "fast" and "seconds" in r}
    eigh_e2e = {r["R"]: r["seconds"] for r in e2e if r["method"] == "eigh" and "seconds" in r}
    backend = jax.default_backend()
    result = {
        "W": a.W,
        "backend": backend,
        "pinned_to_one_core": PINNED,
        "spectral": spectral,
        "end_to_end": e2e,
    }
    if backend == "cpu" and fast_e2e:
        result["paper_fig5"] = project(fast_e2e, a)
    if backend != "cpu" and eigh_e2e:  # measured on this device (eigh path)
        result["paper_fig5_device_hours"] = (
            sum(1000 * M * a.n_W * 2 * per_realization(eigh_e2e, R) for R, M in PAPER_M.items())
            / 3600
        )
    result["gpu_models"] = GPUS
    emit("cost_model", result)


if __name__ == "__main__":
    main()
