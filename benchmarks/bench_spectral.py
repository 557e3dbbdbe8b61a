"""Spectral routes per realization: "device" (band route in XLA) vs "fast" (host LAPACK
band route) vs "eigh" (dense), batched, in one run; plus a GPU projection.

    python benchmarks/bench_spectral.py [--radii 5,10,15,22,33,50] [--dense-max-R 22]
        [--min-time 20] [--max-batch 16] [--gpu-step-latency 2e-5] [--gpu-efficiency 0.1]
        [--passes 12] [--no-pin]

Per radius R (QP lattice, W = 60, theta0 grid): seconds per realization of the jitted,
vmapped ``lattice.couplings_from_potential(V, R, method=...)`` over one batch (compile
excluded, best of repeats), the ratios to the host route, the largest |difference| of
the couplings between the device and host routes, the device route's sequential step
counts and band entries per step, and its XLA memory per realization. Dense eigh is
skipped above ``--dense-max-R`` (O(N^3): minutes per batch at R = 33 here).

GPU projection (not measured where no GPU ran): per realization of the device route,

    t = max(flops / (e F), bytes / B) + steps x tau / batch

with flops = 14 kd^2 per task (the tasks of the schedule) + 2 x 53 N^2 (bisection) +
35 N^2 (first components), bytes = passes x 16 x band entries over all steps (each
step reads and writes its windows ``passes`` times: XLA fusions per step, 12 counted),
steps = 2 (N - 2) + 53 N + 5 N ceil(N / 256) sequential steps at latency tau, batch =
the realizations that fit in half the device memory (XLA's temp + output bytes per
realization measured here). The paper-size Fig. 5 dataset (bench_cost.PAPER_M) is
projected through this route next to dense eigh (bench_cost's roofline).

Pinned to one core unless --no-pin. Prints one JSON line.
"""

from __future__ import annotations

import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
PINNED = "--no-pin" not in sys.argv and hasattr(os, "sched_setaffinity")
if PINNED:  # before JAX starts its threads
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxmf  # noqa: E402, F401  (float64)
from jaxmf.models import _band_device, lattice  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit  # noqa: E402
from bench_cost import GPUS, PAPER_M, gpu_seconds  # noqa: E402

W = 60.0


def _couplings_fn(R, method):
    return jax.jit(lambda V: lattice.couplings_from_potential(V, R, method=method))


def _potentials(R, batch):
    theta = 2 * np.pi * (np.arange(batch) + 0.5) / batch
    return jnp.stack([lattice.potential(R, W, theta0=t) for t in theta])


def _timed(fn, V, repeat):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(V))  # compile + first run
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(V))
        best = min(best, time.perf_counter() - t0)
    return out, best, first


def model(N, kd):
    """Static model of the device route: sequential steps, band entries touched and
    flops per realization."""
    plan, _ = _band_device.schedule(N, kd)
    entries = sum(2 * (b - a) * m * kd * 2 * kd for a, b, m in plan)
    tasks = sum(2 * (b - a) * m for a, b, m in plan)
    steps_reduce = 2 * max(N - 2, 0)
    steps_bisect = 53 * N
    steps_twisted = 5 * N * math.ceil(N / 256)
    flops = 14.0 * kd * kd * tasks + 2 * 53.0 * N * N + 35.0 * N * N
    return {
        "steps_reduction": steps_reduce,
        "steps_bisection": steps_bisect,
        "steps_first_components": steps_twisted,
        "steps": steps_reduce + steps_bisect + steps_twisted,
        "slots_per_phase": [m for _, _, m in plan],
        "entries_per_step_max": plan[0][2] * kd * 2 * kd,
        "band_entries_all_steps": entries,
        "flops": flops,
    }


def gpu_device_seconds(N, kd, gpu, efficiency, passes, latency, bytes_per_real):
    m = model(N, kd)
    batch = max(1, int(0.5 * gpu["memory_gib"] * 2**30 // bytes_per_real))
    compute = m["flops"] / (efficiency * gpu["fp64_tflops"] * 1e12)
    traffic = passes * 16.0 * m["band_entries_all_steps"] / (gpu["bandwidth_tbs"] * 1e12)
    return max(compute, traffic) + m["steps"] * latency / batch, batch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--radii", default="5,10,15,22,33,50")
    p.add_argument("--dense-max-R", type=int, default=22)
    p.add_argument("--max-batch", type=int, default=16)
    p.add_argument(
        "--min-time",
        type=float,
        default=20.0,
        help="target seconds of host-route work per batch (sets the batch)",
    )
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--gpu-step-latency", type=float, default=2e-5)
    p.add_argument("--gpu-efficiency", type=float, default=0.1)
    p.add_argument("--passes", type=float, default=12.0)
    p.add_argument("--no-pin", action="store_true")
    args = p.parse_args(argv)
    rows, bytes_per_real = [], {}
    load_before = os.getloadavg()[0]
    for R in map(int, args.radii.split(",")):
        N, kd = lattice.num_sites(R), lattice.bandwidth(R)
        # batch: ~min_time of host work, from the host route's N^2.2 scaling (1.4 s at
        # R = 50 on one core), at most max_batch
        host_guess = 1.4 * (N / 5101) ** 2.2
        batch = int(max(1, min(args.max_batch, args.min_time / max(host_guess, 1e-4))))
        V = _potentials(R, batch)
        row = {"R": R, "N": N, "kd": kd, "batch": batch}
        outs = {}
        for method in ("fast", "device", "eigh"):
            if method == "eigh" and R > args.dense_max_R:
                row["eigh_seconds"] = None  # O(N^3) dense: skipped at this size
                continue
            fn = _couplings_fn(R, method)
            repeat = args.repeat if R < 33 else 1
            outs[method], best, first = _timed(fn, V, repeat)
            row[f"{method}_seconds"] = best / batch
            row[f"{method}_compile_and_first_s"] = first
            if method == "device":
                mem = fn.lower(V).compile().memory_analysis()
                if mem is not None:
                    used = mem.temp_size_in_bytes + mem.output_size_in_bytes
                    row["device_xla_bytes_per_realization"] = used / batch
                    bytes_per_real[R] = used / batch
        row["device_over_fast"] = row["device_seconds"] / row["fast_seconds"]
        if row.get("eigh_seconds"):
            row["eigh_over_fast"] = row["eigh_seconds"] / row["fast_seconds"]
            row["device_over_eigh"] = row["device_seconds"] / row["eigh_seconds"]
        row["max_abs_diff_device_vs_fast"] = float(jnp.max(jnp.abs(outs["device"] - outs["fast"])))
        row["model"] = model(N, kd)
        rows.append(row)
        print(row, file=sys.stderr, flush=True)

    # GPU projection of the paper-size Fig. 5 dataset (not measured: no GPU here)
    measured_R = sorted(bytes_per_real)
    projection = {}
    for name, gpu in GPUS.items():
        total_device = total_eigh = 0.0
        per_R = {}
        for R, M in PAPER_M.items():
            N, kd = lattice.num_sites(R), lattice.bandwidth(R)
            # memory per realization: measured at the nearest radius, scaled as N kd
            Rm = min(measured_R, key=lambda r: abs(r - R)) if measured_R else None
            per_real = (
                bytes_per_real[Rm] * N * kd / (lattice.num_sites(Rm) * lattice.bandwidth(Rm))
                if Rm is not None
                else 60.0 * N * kd * 8
            )
            t_dev, batch = gpu_device_seconds(
                N, kd, gpu, args.gpu_efficiency, args.passes, args.gpu_step_latency, per_real
            )
            t_eigh = gpu_seconds(
                N, "eigh", gpu["fp64_tflops"], gpu["bandwidth_tbs"], args.gpu_efficiency
            )
            count = M * 1000 * 10 * 2
            total_device += count * t_dev
            total_eigh += count * t_eigh
            per_R[R] = {
                "device_ms": 1e3 * t_dev,
                "eigh_ms": 1e3 * t_eigh,
                "device_batch": batch,
                "eigh_batch": int(0.5 * gpu["memory_gib"] * 2**30 // (32 * N * N)),
            }
        projection[name] = {
            "device_hours": total_device / 3600,
            "eigh_hours": total_eigh / 3600,
            "per_R": per_R,
        }
    emit(
        "spectral_routes",
        {
            "W": W,
            "pinned_to_one_core": PINNED,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "rows": rows,
            "gpu": "not measured: no GPU"
            if jax.default_backend() == "cpu"
            else jax.devices()[0].device_kind,
            "gpu_projection": {
                "assumptions": {
                    "efficiency": args.gpu_efficiency,
                    "step_latency_s": args.gpu_step_latency,
                    "passes_per_step": args.passes,
                    "memory_fraction": 0.5,
                },
                **projection,
            },
        },
    )


if __name__ == "__main__":
    main()
