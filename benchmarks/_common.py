"""Shared helpers for the benchmark scripts: thread settings and timing."""

import json
import os
import platform
import time

import jax


def environment() -> dict:
    """What the numbers depend on: device, threads, versions."""
    dev = jax.devices()[0]
    return {
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
        "n_devices": jax.device_count(),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "python": platform.python_version(),
    }


def best_time(fn, repeat=3):
    """Minimum wall time of fn() over ``repeat`` calls (fn must block on its result)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def emit(name: str, results: dict) -> None:
    """Print the single JSON line of a benchmark."""
    print(json.dumps({"benchmark": name, **results, "env": environment()}))
