"""One sweep on P processes (jax.distributed on localhost) against one process.

The same ensemble sweep (``jaxmf.analysis.ensemble.sweep``: couplings, mean-field solve,
observables, chunk files) is timed in three runs, each in fresh processes started here,
all with one BLAS thread and one CPU device per process:

* ``1 process``: one process as a user would start it (XLA may run parts of a batch on
  several cores, e.g. a batched dense eigh);
* ``1 process, 1 core``: the same, pinned to one core (``sched_setaffinity``);
* ``P processes``: P processes joined by ``jax.distributed`` on localhost, process i
  pinned to core i, sharing the output folder (process k computes chunk k mod P).

``ratio`` is the throughput of P processes over that of ``1 process``; ``efficiency``
is P processes over P x ``1 process, 1 core``. Compilation is excluded (a warm-up sweep
with the same chunk shape in each process, then a barrier, then the timed sweep). The
machine's load average is reported: other jobs on the same cores lower every rate.

    python benchmarks/bench_distributed.py                      # R = 10, 2 processes
    python benchmarks/bench_distributed.py --R 15 --draws 512 --processes 2

Prints one JSON line with realizations per second and the ratios to one process.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402


def _worker(pid, count, port, cfg):
    """One process of a timed run: warm-up, barrier, timed sweep; process 0 prints."""
    if cfg["pin"]:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[pid % len(cores)]})
    import jax  # after pinning: every thread it starts stays on that core

    from jaxmf import _processes
    from jaxmf.analysis import ensemble
    from jaxmf.models import lattice

    if count > 1:
        jax.distributed.initialize(f"localhost:{port}", count, pid)
    n_dev = len(jax.local_devices())
    N = lattice.num_sites(cfg["R"])
    chunk = min(ensemble.default_chunk_size(N, n_dev), cfg["draws"])
    chunk = -(-chunk // n_dev) * n_dev
    kw = dict(
        kind=cfg["kind"],
        R=[cfg["R"]],
        chunk_size=chunk,
        progress=False,
        **({"seed": 0} if cfg["kind"] == "random" else {}),
    )
    # warm-up: one chunk of the same shape in every process
    ensemble.sweep(os.path.join(cfg["root"], "warm"), W=cfg["W"][:1], n_draws=chunk * count, **kw)
    _processes.barrier("start")
    t0 = time.perf_counter()
    res = ensemble.sweep(os.path.join(cfg["root"], "timed"), W=cfg["W"], n_draws=cfg["draws"], **kw)
    elapsed = time.perf_counter() - t0
    if pid == 0:
        print(
            "RESULT "
            + json.dumps(
                {
                    "seconds": elapsed,
                    "chunk_size": chunk,
                    "n_chunks": len(list(os.scandir(os.path.join(cfg["root"], "timed", "chunks")))),
                    "complete": bool(res.complete.all()),
                    "f_aval": res.avalanche.mean(-1)[:, 0].round(4).tolist(),
                    "eta_sum": float(res.eta_tot.sum()),
                }
            ),
            flush=True,
        )


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _timed_run(count, cfg, timeout):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(i), str(count), port, json.dumps(cfg)],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(count)
    ]
    try:
        outs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    lines = [ln for ln in outs[0][0].splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"run with {count} processes failed:\n{outs[0][1][-3000:]}")
    return json.loads(lines[0][7:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--R", type=int, default=10, help="lattice radius")
    parser.add_argument("--kind", default="qp", choices=("qp", "random"))
    parser.add_argument("--W", default="60,120", help="comma-separated W")
    parser.add_argument("--draws", type=int, default=1024, help="realizations per W")
    parser.add_argument("--processes", type=int, default=2, help="P of the shared run")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        pid, count, port, cfg = args.worker
        return _worker(int(pid), int(count), port, json.loads(cfg))

    from jaxmf.models import lattice

    total = len(args.W.split(",")) * args.draws
    runs = {}
    with tempfile.TemporaryDirectory() as root:
        for name, count, pin in [
            ("1 process", 1, False),
            ("1 process, 1 core", 1, True),
            (f"{args.processes} processes", args.processes, True),
        ]:
            cfg = {
                "R": args.R,
                "kind": args.kind,
                "draws": args.draws,
                "pin": pin,
                "W": [float(w) for w in args.W.split(",")],
                "root": os.path.join(root, name.replace(" ", "_").replace(",", "")),
            }
            load = os.getloadavg()[0]
            r = _timed_run(count, cfg, args.timeout)
            runs[name] = {
                **r,
                "processes": count,
                "pinned": pin,
                "per_s": round(total / r["seconds"], 2),
                "seconds": round(r["seconds"], 3),
                "load_before": round(load, 2),
            }
    base = runs["1 process"]
    for r in runs.values():
        r["ratio_to_1_process"] = round(r["per_s"] / base["per_s"], 3)
    for r in runs.values():  # the same realizations: the same numbers in every layout
        r["eta_sum_rel_diff"] = abs(r["eta_sum"] / base["eta_sum"] - 1.0)
    for r in runs.values():
        del r["eta_sum"]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import emit

    emit(
        "distributed_sweep",
        {
            "R": args.R,
            "N": lattice.num_sites(args.R),
            "kind": args.kind,
            "W": args.W,
            "realizations": total,
            "runs": runs,
            "ratio": runs[f"{args.processes} processes"]["ratio_to_1_process"],
            "efficiency": round(
                runs[f"{args.processes} processes"]["per_s"]
                / (args.processes * runs["1 process, 1 core"]["per_s"]),
                3,
            ),
            "load_after": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    main()
