"""Spectral routes per realization: "device" (band route in XLA) vs "fast" (host LAPACK
band route) vs "eigh" (dense), batched, in one run; per-stage profile; GPU projection.

    python benchmarks/bench_spectral.py [--radii 5,10,15,22,33,50] [--dense-max-R 22]
        [--batches 5:16,10:16,15:8,22:8,33:2,50:1] [--gpu-kernel-latency 5e-6]
        [--gpu-efficiency 0.1] [--no-pin]
    python benchmarks/bench_spectral.py --floor [--radii 10,22,33] [--batches ...]

Per radius R (QP lattice, W = 60, theta0 grid, ``--batches`` realizations): seconds per
realization of the jitted, vmapped ``lattice.couplings_from_potential(V, R, method=...)``
over one batch (compile excluded, best of repeats), the ratios to the host route, the
largest |difference| of the couplings between the device and host routes; the device
route's stages timed separately (band reduction, eigenvalues, amplitudes) next to the
host route's (LAPACK reduction + dsterf on the host; the same JAX amplitudes); the
reduction's loop bodies' XLA kernels per step, per stage (fusions, dots, custom calls of
the largest compiled while body of each stage, and how many of them write a
window-sized array: the passes over the band) and the XLA memory per realization. The
band reduction has two stages from kd >= 20 on (``_band_device.intermediate_band``):
"blocked" (kd -> b = 8, :mod:`jaxmf.models._band_blocked`) and "chase" (b -> 1), timed
apart. Dense eigh is skipped above ``--dense-max-R``.

GPU projection (not measured where no GPU ran): per realization of the device route,

    t = max(flops / (e F), bytes / BW) + launches x tau / batch

with flops = 16 kd^2 b per task of the blocked stage + 14 b^2 per task of the chase
(the tasks of the schedules) + 5 x 7 x 18 N^2 (multisection: 7 Sturm counts per
interval and sweep, 18 sweeps) + 35 N^2 (first components); bytes = 16 x passes x band
entries over all steps of each stage (each window-sized kernel reads and writes the
windows once, ``passes`` counted from the stage's compiled loop body here); launches =
kernels x steps of each stage (2 N / b + N / kd blocked, 2 (N - 2) chase) + 2 x 18 N / 4 (Sturm
recurrence, unrolled 4) + 5 N ceil(N / 256) (twisted factorizations, chunks of 256),
each at kernel latency tau; batch = the realizations that fit in half the device memory
(XLA's temp + output bytes per realization measured here, scaled as N kd). The
paper-size Fig. 5 dataset (bench_cost.PAPER_M) is projected through this route next to
dense eigh (bench_cost's roofline).

``--floor``: per radius, the one-stage band reduction (band=0) against the host's
LAPACK reduction + dsterf and against the cheapest loop any step-by-step XLA
formulation runs: the same schedule (phases, slots, the slab's dynamic slice and
in-place write) whose body makes a single elementwise pass over the step's windows
(read and write once, no reflectors). Its time over LAPACK's is a lower bound of the
one-stage reduction's ratio for every formulation that streams the windows once per
step. The row also times the default (two-stage) reduction.

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
import re  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxmf  # noqa: E402, F401  (float64)
from jaxmf.models import _band_blocked, _band_device, _banded, lattice  # noqa: E402

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


SWEEPS = 18  # multisection sweeps on accelerators (7 points: 3 bits per sweep, 53 bits)
POINTS = 7


def model(N, kd):
    """Static model of the device route: sequential steps, band entries touched and
    flops per realization, per stage of the band reduction ("blocked": kd -> b by
    blocked Householder updates, 16 kd^2 b flops per task; "chase": bulge chasing of
    the band of width b (kd where there is no blocked stage) to tridiagonal form,
    14 b^2 flops per task)."""
    b = _band_device.intermediate_band(kd)
    stages = {}
    if b:
        plan, _ = _band_blocked.block_schedule(N, kd, b)
        tasks = sum((c - a) * m for a, c, m in plan)
        stages["blocked"] = {
            "steps": sum(c - a for a, c, _ in plan),
            "band_entries_all_steps": tasks * kd * 2 * kd,
            "entries_per_step_max": max(m for _, _, m in plan) * kd * 2 * kd,
            "flops": 16.0 * kd * kd * b * tasks,
        }
    w = b or kd
    plan, _ = _band_device.schedule(N, w)
    tasks = sum(2 * (c - a) * m for a, c, m in plan)
    stages["chase"] = {
        "steps": 2 * max(N - 2, 0),
        "band_entries_all_steps": tasks * w * 2 * w,
        "entries_per_step_max": plan[0][2] * w * 2 * w,
        "flops": 14.0 * w * w * tasks,
    }
    steps_twisted = 5 * N * math.ceil(N / 256)
    return {
        "intermediate_band": b,
        "stages": stages,
        "steps_reduction": sum(x["steps"] for x in stages.values()),
        "steps_sturm_gpu": SWEEPS * N,
        "steps_sturm_cpu": 53 * N,
        "steps_first_components": steps_twisted,
        "flops": sum(x["flops"] for x in stages.values())
        + 5.0 * POINTS * SWEEPS * N * N
        + 35.0 * N * N,
    }


def loop_kernels(compiled, window):
    """Kernels per iteration of the largest while body of fn's compiled program: all
    fusions, dots and custom calls, and those whose output has at least ``window`` / 4
    entries (a D or B block of every task or more: the passes over the windows)."""
    text = compiled.as_text()
    bodies = [c for c in re.split(r"\n(?=%)", text) if re.match(r"%\S*region\S* \(", c)]
    best = {"kernels": 0, "window_passes": 0}
    for body in bodies:
        sizes = []
        for line in body.splitlines()[1:]:
            m = re.match(r"\s*%\S+ = (\w+)\[([\d,]*)\]\S* (fusion|dot|custom-call)\(", line)
            if m:
                dims = [int(x) for x in m.group(2).split(",") if x]
                sizes.append(math.prod(dims))
        if len(sizes) > best["kernels"]:
            passes = sum(x >= window / 4 for x in sizes)
            best = {"kernels": len(sizes), "window_passes": passes}
    return best


def gpu_device_seconds(N, kd, gpu, efficiency, kernels, latency, bytes_per_real):
    """Projected seconds per realization and batch; ``kernels`` per stage of the
    reduction ({"blocked": ..., "chase": ...}, counted from compiled loop bodies)."""
    m = model(N, kd)
    batch = max(1, int(0.5 * gpu["memory_gib"] * 2**30 // bytes_per_real))
    compute = m["flops"] / (efficiency * gpu["fp64_tflops"] * 1e12)
    traffic = launches = 0.0
    for name, stage in m["stages"].items():
        k = kernels[name]
        traffic += k["window_passes"] * 16.0 * stage["band_entries_all_steps"]
        launches += k["kernels"] * stage["steps"]
    traffic /= gpu["bandwidth_tbs"] * 1e12
    launches += 2 * m["steps_sturm_gpu"] / 4 + m["steps_first_components"]
    return max(compute, traffic) + launches * latency / batch, batch


def _band_reduction(R, V, band=None):
    """(band, ab, reduce): the lattice's band, the (batch, kd + 1, N) band storage of the
    potentials V (batch, N) in band order, and the compiled device band reduction."""
    band_ = lattice.square(R).band
    template = jnp.asarray(np.broadcast_to(band_.template, (V.shape[0],) + band_.template.shape))
    ab = template.at[:, 0].set(V)
    fn = jax.jit(lambda a: _band_device.band_to_tridiagonal(a, band=band))
    return band_, ab, fn.lower(ab).compile()


def _stages(R, batch, V):
    """Seconds per realization of the device route's stages and the host route's; the
    two stages of the band reduction timed and their loops' kernels counted apart."""
    band, ab, reduce = _band_reduction(R, V)
    eig = jax.jit(_band_device.tridiagonal_eigenvalues)
    amp = jax.jit(jax.vmap(_banded.first_components))
    d, e = reduce(ab)
    lam = eig(d, e)
    n, kd = band.n, band.bandwidth
    b = _band_device.intermediate_band(kd)
    cols = jnp.zeros((n, 2 * kd, batch)).at[:, : kd + 1].set(jnp.moveaxis(ab, 0, -1).swapaxes(0, 1))
    blocked = narrow = ab
    if b:
        blocked = jax.jit(lambda C: _band_blocked.reduce_band(C, n, kd, b))
        blocked = blocked.lower(cols).compile()
        narrow = jnp.moveaxis(blocked(cols), -1, 0).swapaxes(1, 2)
    chase = jax.jit(lambda a: _band_device.band_to_tridiagonal(a, band=0))
    chase = chase.lower(narrow).compile()
    out = {"intermediate_band": b}
    timed = [
        ("device_reduction_s", reduce, (ab,)),
        ("chase_stage_s", chase, (narrow,)),
        ("device_eigenvalues_s", eig, (d, e)),
        ("amplitudes_s", amp, (d, e, lam)),
    ]
    if b:
        timed.insert(1, ("blocked_stage_s", blocked, (cols,)))
    for name, fn, args in timed:
        jax.block_until_ready(fn(*args))
        out[name] = _best(lambda fn=fn, args=args: jax.block_until_ready(fn(*args))) / batch
    host = np.asarray(ab)
    host_s = _best(lambda: [_banded.tridiagonal_host(a) for a in host])
    out["host_reduction_dsterf_s"] = host_s / batch
    stages = model(n, kd)["stages"]
    out["reduction_loops"] = {
        name: loop_kernels(fn, stages[name]["entries_per_step_max"] * batch)
        for name, fn in (("blocked", blocked), ("chase", chase))
        if name in stages
    }
    return out


def _one_pass_loop(n, kd, batch):
    """The reduction's schedule with one elementwise pass over the windows per step."""
    from jax import lax

    plan, rows = _band_device.schedule(n, kd)
    stride, width = 2 * kd - 1, 2 * kd

    def run(C):
        for first, stop, slots in plan:

            def body(t, C, slots=slots):
                p0 = t // 2 + (t % 2) * kd
                slab = lax.dynamic_slice_in_dim(C, p0, 1 + slots * stride, axis=0)
                col, rest = slab[0], slab[1:].reshape(slots, stride, width, batch)
                win = 0.5 * rest[:, :kd] + 1e-3 * col[None, None, :1]
                rest = jnp.concatenate([win, rest[:, kd:]], axis=1).reshape(-1, width, batch)
                return lax.dynamic_update_slice_in_dim(
                    C, jnp.concatenate([col[None], rest]), p0, axis=0
                )

            C = lax.fori_loop(2 * first, 2 * stop, body, C)
        return C

    return jax.jit(run).lower(jnp.ones((rows, width, batch))).compile(), rows, width


def _floor_row(R, batch, repeat):
    """Seconds per realization of LAPACK reduction + dsterf (host), the device reduction
    and the one-pass loop at radius R, in one process."""
    V = _potentials(R, batch)[:, lattice.square(R).order]
    band, ab, reduce = _band_reduction(R, V, band=0)  # the one-stage reduction
    _, _, two_stage = _band_reduction(R, V)
    n, kd = band.n, band.bandwidth
    jax.block_until_ready(two_stage(ab))
    one_pass, nrows, width = _one_pass_loop(n, kd, batch)
    C = jnp.ones((nrows, width, batch))
    host = np.asarray(ab)
    jax.block_until_ready(reduce(ab))
    jax.block_until_ready(one_pass(C))
    t = {
        "host_reduction_dsterf_s": _best(
            lambda: [_banded.tridiagonal_host(a) for a in host], repeat
        ),
        "device_reduction_s": _best(lambda: jax.block_until_ready(reduce(ab)), repeat),
        "one_pass_loop_s": _best(lambda: jax.block_until_ready(one_pass(C)), repeat),
        "two_stage_reduction_s": _best(lambda: jax.block_until_ready(two_stage(ab)), repeat),
    }
    row = {"R": R, "N": n, "kd": kd, "batch": batch}
    row.update({k: v / batch for k, v in t.items()})
    lapack = row["host_reduction_dsterf_s"]
    row["one_pass_over_lapack"] = row["one_pass_loop_s"] / lapack
    row["device_over_lapack"] = row["device_reduction_s"] / lapack
    row["device_over_one_pass"] = row["device_reduction_s"] / row["one_pass_loop_s"]
    row["two_stage_over_lapack"] = row["two_stage_reduction_s"] / lapack
    print(row, file=sys.stderr, flush=True)
    return row


def floor(radii, batches, repeat):
    """Rows of --floor, one per radius (:func:`_floor_row`)."""
    return [_floor_row(R, batches.get(R, 8), repeat) for R in radii]


def _best(fn, repeat=2):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--radii", default="5,10,15,22,33,50")
    p.add_argument("--dense-max-R", type=int, default=22)
    p.add_argument(
        "--batches",
        default="5:16,10:16,15:8,22:8,33:2,50:1",
        help="realizations per batch, R:batch (8 for radii not listed)",
    )
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--gpu-kernel-latency", type=float, default=5e-6)
    p.add_argument("--gpu-efficiency", type=float, default=0.1)
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--floor", action="store_true", help="the one-pass lower bound only")
    args = p.parse_args(argv)
    batches = {int(k): int(b) for k, b in (x.split(":") for x in args.batches.split(","))}
    if args.floor:
        emit(
            "spectral_floor",
            {
                "pinned_to_one_core": PINNED,
                "load_before": os.getloadavg()[0],
                "rows": floor(map(int, args.radii.split(",")), batches, args.repeat + 1),
                "load_after": os.getloadavg()[0],
            },
        )
        return
    rows, bytes_per_real, kernels = [], {}, None
    load_before = os.getloadavg()[0]
    for R in map(int, args.radii.split(",")):
        N, kd = lattice.num_sites(R), lattice.bandwidth(R)
        batch = batches.get(R, 8)
        V = _potentials(R, batch)
        row = {"R": R, "N": N, "kd": kd, "batch": batch}
        outs = {}
        for method in ("fast", "device", "eigh"):
            if method == "eigh" and R > args.dense_max_R:
                row["eigh_seconds"] = None  # O(N^3) dense: skipped at this size
                continue
            fn = _couplings_fn(R, method)
            repeat = args.repeat if R < 50 else 1
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
        row["stages"] = _stages(R, batch, V[:, lattice.square(R).order])
        kernels = row["stages"]["reduction_loops"]
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
                N, kd, gpu, args.gpu_efficiency, kernels, args.gpu_kernel_latency, per_real
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
                    "kernel_latency_s": args.gpu_kernel_latency,
                    "reduction_kernels_per_step": kernels,
                    "multisection": {"points": POINTS, "sweeps": SWEEPS},
                    "memory_fraction": 0.5,
                },
                **projection,
            },
        },
    )


if __name__ == "__main__":
    main()
