"""Several processes on one stored run (``jax.distributed``): layout, shares, barriers.

Infrastructure for the run layer (:mod:`jaxmf._runs`): every process computes on its
own devices (``jax.local_devices()``); nothing is computed across processes. The
processes share a folder on a common filesystem and meet only through the coordination
service of ``jax.distributed``:

* :func:`broadcast`: process 0 computes a small JSON value (the plan of a run: what is
  still missing on disk) and every process receives the same value;
* :func:`share`: the disjoint share of a task list that this process computes (task k
  goes to process k mod P);
* :func:`barrier`: every process waits until all have arrived;
* :func:`await_files`: wait until files written by other processes are visible (a
  shared filesystem may show a new file on another host only after a delay);
* :func:`abort_on_error`: an exception in one process is published, so the others
  stop at their next :func:`barrier` or :func:`broadcast` with an error instead of
  waiting. A process killed outright is detected by the coordination service's
  heartbeat (``heartbeat_timeout_s``), which then ends the others.

Without ``jax.distributed`` (one process) barriers, broadcasts and published errors are
no-ops. The processes are started by ``jax.distributed.initialize`` (or
:func:`initialize`, the same with this module's argument names), before anything else
uses JAX; the command line's process flags end up there too.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import time
from typing import NamedTuple

import jax

__all__ = [
    "Layout",
    "layout",
    "initialize",
    "share",
    "barrier",
    "broadcast",
    "await_files",
    "abort_on_error",
    "is_main",
]

_PREFIX = "jaxmf"
_POLL_S = (0.005, 0.25)  # first and longest pause between polls (doubling)
_sequence = [0]


class Layout(NamedTuple):
    """The process layout: this process's index in 0..count-1 and the process count."""

    index: int
    count: int


def layout() -> Layout:
    """(process index, process count); (0, 1) without ``jax.distributed``."""
    if not jax.distributed.is_initialized():
        return Layout(0, 1)
    return Layout(jax.process_index(), jax.process_count())


def is_main() -> bool:
    """Whether this is process 0 (the one that writes the pooled files)."""
    return layout().index == 0


def initialize(
    coordinator_address=None,
    num_processes=None,
    process_id=None,
    *,
    heartbeat_timeout_s=100,
    initialization_timeout_s=300,
    shutdown_timeout_s=300,
) -> Layout:
    """Start ``jax.distributed`` for this process and return its :class:`Layout`.

    Arguments left as None are detected by JAX from the environment (SLURM ``srun``
    steps, Open MPI, Kubernetes, ``JAX_COORDINATOR_ADDRESS``); with all three None this
    is ``jax.distributed.initialize()``. Call it once per process, before any other use
    of JAX. On CPU the processes need no collectives (only the coordination service).

    Args:
        coordinator_address: "host:port" of process 0's coordination service, reachable
            from every process (process 0 listens on that port).
        num_processes: process count P.
        process_id: this process's index in 0..P-1.
        heartbeat_timeout_s: a process silent this long is taken as dead; the others
            are then ended (a rerun of the same command resumes).
        initialization_timeout_s: how long to wait for all processes to connect.
        shutdown_timeout_s: how long the exit of one process waits for the others.
    """
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        heartbeat_timeout_seconds=int(heartbeat_timeout_s),
        initialization_timeout=int(initialization_timeout_s),
        shutdown_timeout_seconds=int(shutdown_timeout_s),
    )
    return layout()


# --------------------------------------------------------------------------- sharing
def share(items, where: Layout | None = None) -> list:
    """This process's disjoint share of ``items``: items[k] for k = index mod count."""
    where = where or layout()
    return list(items)[where.index :: where.count]


def _client():
    from jax._src import distributed as _state

    client = _state.global_state.client
    if client is None:
        raise RuntimeError("jax.distributed is not initialized (no key-value client)")
    return client


def _next_key(name):
    # every process makes the same sequence of barrier/broadcast calls, so the
    # sequence number names the same meeting on every process
    _sequence[0] += 1
    return f"{_PREFIX}/{_sequence[0]}:{name}"


def _check_abort(client):
    failed = client.key_value_dir_get(f"{_PREFIX}-abort/")
    if failed:
        who, message = failed[0]
        raise RuntimeError(f"process {who.rsplit('/', 1)[-1]} failed: {message}")


def _wait(client, test, timeout_s, what):
    start, pause = time.monotonic(), _POLL_S[0]
    while True:
        _check_abort(client)
        value = test()
        if value is not None:
            return value
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{what}: waited {timeout_s:g} s for the other processes")
        time.sleep(pause)
        pause = min(2 * pause, _POLL_S[1])


def barrier(name="barrier", timeout_s=None):
    """Wait until every process has called ``barrier`` (the same number of times).

    Raises RuntimeError at once if another process failed inside
    :func:`abort_on_error`, TimeoutError after ``timeout_s`` (None: no limit; a dead
    process ends the run through the heartbeat of ``jax.distributed``).
    """
    where = layout()
    if where.count == 1:
        return
    client, key = _client(), _next_key(name)
    client.key_value_set(f"{key}/{where.index}", "1")
    _wait(
        client,
        lambda: True if len(client.key_value_dir_get(key + "/")) >= where.count else None,
        timeout_s,
        f"barrier {name!r}",
    )


def broadcast(compute, name="broadcast", timeout_s=None):
    """``compute()`` on process 0, its (JSON-able) value returned on every process.

    An exception in ``compute`` is raised on process 0 and, as RuntimeError with the
    same message, on the others.
    """
    where = layout()
    if where.count == 1:
        return compute()
    client, key = _client(), _next_key(name)
    if where.index == 0:
        try:
            value = compute()
        except Exception as err:
            client.key_value_set(key, json.dumps({"error": f"{type(err).__name__}: {err}"}))
            raise
        client.key_value_set(key, json.dumps({"value": value}))
        return value

    def fetch():
        try:
            return client.key_value_try_get(key)
        except Exception:  # noqa: BLE001  (NOT_FOUND: not published yet)
            return None

    message = json.loads(_wait(client, fetch, timeout_s, f"broadcast {name!r}"))
    if "error" in message:
        raise RuntimeError(f"process 0 failed: {message['error']}")
    return message["value"]


def await_files(paths, timeout_s=300.0):
    """Wait until every path exists (files another process wrote on a shared filesystem
    whose directory caches may lag); TimeoutError naming the missing ones after
    ``timeout_s``."""
    missing = [pathlib.Path(p) for p in paths]
    start, pause = time.monotonic(), _POLL_S[0]
    while True:
        missing = [p for p in missing if not p.exists()]
        if not missing:
            return
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(
                f"{len(missing)} file(s) written by other processes are "
                f"not visible after {timeout_s:g} s, e.g. {missing[0]}"
            )
        time.sleep(pause)
        pause = min(2 * pause, 2.0)


@contextlib.contextmanager
def abort_on_error():
    """Publish an exception raised inside the block, so the other processes stop at
    their next :func:`barrier` / :func:`broadcast` instead of waiting; then re-raise."""
    try:
        yield
    except BaseException as err:
        where = layout()
        if where.count > 1:
            with contextlib.suppress(Exception):
                _client().key_value_set(
                    f"{_PREFIX}-abort/{where.index}",
                    f"{type(err).__name__}: {err}",
                    allow_overwrite=True,
                )
        raise
