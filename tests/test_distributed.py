"""Sweeps and rare-event runs shared over several processes (jaxmf._processes, _runs).

Each test starts 2 or 3 local CPU processes that call ``jax.distributed.initialize`` on
localhost, runs a small sweep (several chunks) and a small rare-event run in them, and
compares with the same calls made here in one process: bit for bit (same chunks, keys
and batch shapes). One test kills a process mid-sweep and resumes.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from jaxmf import _processes
from jaxmf.analysis import ensemble, rare
from jaxmf.cli._processes import add_process_arguments, initialize_from_args

# random draws (keys from (seed, R, i)); 2 W x 4 chunks, the last one padded
SWEEP = dict(kind="random", R=[3], W=[20.0, 90.0], n_draws=7, seed=4, chunk_size=2)
RARE = dict(model=2, Ws=[60.0, 90.0], g0=(0.1, 0.05), n=20, replicas=3, thin=2)
TIMEOUT = 240

WORKER = textwrap.dedent("""
    import json, os, sys
    import jax
    from jaxmf import _processes
    from jaxmf.analysis import ensemble, rare

    pid, count, port, cfg = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    cfg = json.loads(cfg)
    if count > 1:  # count 1: a plain one-process run, the reference
        where = _processes.initialize(f"localhost:{port}", count, pid,
                                       heartbeat_timeout_s=4, initialization_timeout_s=60,
                                       shutdown_timeout_s=30)
        assert where == (pid, count) and len(jax.local_devices()) == 1
        assert len(jax.devices()) == count
    done = []

    def on_chunk(**kw):
        done.append([kw["R"], kw["W"], kw["start"]])
        if cfg.get("die") == pid:  # a process killed mid-sweep, after its first chunk
            os._exit(17)

    res = ensemble.sweep(cfg["sweep"]["path"], **cfg["sweep"]["kw"], progress=False,
                         on_chunk=on_chunk)
    out = {"pid": pid, "chunks": done, "complete": bool(res.complete.all()),
           "eta_tot": res.eta_tot.ravel().tolist()}
    rows = rare.f_aval_tail(**cfg["rare"]["kw"], key=jax.random.key(7),
                            folder=cfg["rare"]["path"] if count > 1 else None)
    out["rare"] = [r._asdict() for r in rows]
    print("RESULT " + json.dumps(out), flush=True)
""")


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _launch(tmp_path, count, cfg):
    """Run the worker in ``count`` processes; [(returncode, result dict or None, log)]."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port = _free_port()
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "OPENBLAS_NUM_THREADS": "1",
        "XLA_FLAGS": "",
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path.parent / "jit-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), str(count), str(port), json.dumps(cfg)],
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(count)
    ]
    out = []
    try:
        for p in procs:
            log, _ = p.communicate(timeout=TIMEOUT)
            lines = [ln for ln in log.splitlines() if ln.startswith("RESULT ")]
            out.append((p.returncode, json.loads(lines[-1][7:]) if lines else None, log))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return out


def _config(root, die=None):
    return {
        "sweep": {"path": str(root / "sweep"), "kw": SWEEP},
        "rare": {"path": str(root / "rare"), "kw": RARE},
        "die": die,
    }


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same sweep and rare run (without a folder) in one plain process (it also
    fills the compilation cache the later processes read)."""
    root = tmp_path_factory.mktemp("single")
    [(rc, out, log)] = _launch(root, 1, _config(root))
    assert rc == 0, log[-3000:]
    return ensemble.load(root / "sweep"), out["rare"]


def _same_sweep(a, b):
    for f in ensemble.FIELDS + ("complete",):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def _check_against_single(root, single, results, pooled=True):
    ref, rows = single
    _same_sweep(ensemble.load(root / "sweep"), ref)
    assert len(rows) == 2 * 2  # (W, g0)
    got = [r["rare"] for _, r, _ in results]
    if pooled:  # the rows pooled by process 0
        got.append(json.loads((root / "rare" / "rows.json").read_text())["rows"])
    for _, r, _ in results:  # every process returned the whole result
        assert r["complete"]
        np.testing.assert_array_equal(r["eta_tot"], ref.eta_tot.ravel())
    for rows_got in got:
        assert len(rows_got) == len(rows)
        for a, b in zip(rows, rows_got):
            np.testing.assert_equal({**a, "seconds": 0}, {**b, "seconds": 0})


def test_two_processes_match_one(tmp_path, single):
    results = _launch(tmp_path, 2, _config(tmp_path))
    assert all(rc == 0 for rc, _, _ in results), results[0][2][-3000:]
    # disjoint shares that cover every chunk (chunk k of the plan on process k mod 2)
    shares = [{tuple(c) for c in r["chunks"]} for _, r, _ in results]
    assert not shares[0] & shares[1]
    assert [len(s) for s in shares] == [4, 4]
    assert len(shares[0] | shares[1]) == 2 * 4
    assert not list(tmp_path.rglob(".tmp-*"))
    _check_against_single(tmp_path, single, results)


@pytest.mark.parametrize(
    "first, then",
    [
        (2, 1),  # resumed by one plain process
        pytest.param(3, 3, marks=pytest.mark.slow),  # resumed by the same command
    ],
)
def test_killed_process_then_resume(tmp_path, single, first, then):
    # process 1 dies right after its first chunk; the coordination service ends the
    # others (heartbeat); what is on disk is kept
    killed = _launch(tmp_path, first, _config(tmp_path, die=1))
    assert killed[1][0] == 17 and all(r is None for _, r, _ in killed)
    names = {p.name for p in (tmp_path / "sweep" / "chunks").glob("*.npz")}
    assert names and len(names) < 8
    partial = ensemble.load(tmp_path / "sweep")
    assert 0 < partial.complete.sum() < partial.complete.size
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "sweep" / "chunks").glob("*.npz")}
    # run again, with any process count: only the missing chunks are computed
    again = _launch(tmp_path, then, _config(tmp_path))
    assert all(rc == 0 for rc, _, _ in again), again[0][2][-3000:]
    redone = {
        f"R{R}_W{SWEEP['W'].index(W)}_{s}-{min(s + 2, 7)}.npz"
        for _, r, _ in again
        for R, W, s in r["chunks"]
    }
    assert redone and not redone & names and len(redone | names) == 8
    for p, t in mtimes.items():
        assert p.stat().st_mtime_ns == t  # nothing already written is rewritten
    _check_against_single(tmp_path, single, again, pooled=then > 1)


@pytest.mark.slow
def test_error_in_one_process_stops_the_others(tmp_path):
    # an exception in one process (here: in on_chunk) is published; the others raise at
    # the final barrier instead of waiting, and every process exits
    script = textwrap.dedent(f"""
        import sys
        from jaxmf import _processes
        from jaxmf.analysis import ensemble
        pid = int(sys.argv[1])
        _processes.initialize(f"localhost:{{sys.argv[2]}}", 2, pid, shutdown_timeout_s=30)

        def on_chunk(**kw):
            if pid == 1:
                raise KeyError("stop here")

        try:
            ensemble.sweep({str(tmp_path / "err")!r}, **{SWEEP!r}, progress=False,
                           on_chunk=on_chunk)
        except Exception as err:
            print("RAISED", type(err).__name__, err, flush=True)
            sys.exit(3)
    """)
    (tmp_path / "err.py").write_text(script)
    port = str(_free_port())
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "OPENBLAS_NUM_THREADS": "1",
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path.parent / "jit-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "err.py", str(i), port],
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    try:
        logs = [p.communicate(timeout=TIMEOUT)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [3, 3], logs[0][-2000:]
    assert "RAISED RuntimeError process 1 failed: KeyError" in logs[0]
    assert "RAISED KeyError" in logs[1]
    # process 1 wrote its first chunk, process 0 its whole share
    assert len(list((tmp_path / "err" / "chunks").glob("*.npz"))) == 4 + 1


# --------------------------------------------------------------------------- layout
def test_process_flags():
    parser = argparse.ArgumentParser()
    add_process_arguments(parser)
    a = parser.parse_args([])
    assert initialize_from_args(a) == (0, 1)  # one process: nothing started
    assert not jax.distributed.is_initialized()
    a = parser.parse_args(
        ["--coordinator", "node1:1234", "--num-processes", "4", "--process-id", "3"]
    )
    assert (a.coordinator, a.num_processes, a.process_id, a.distributed) == (
        "node1:1234",
        4,
        3,
        False,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--num-processes", "0"])
    with pytest.raises(ValueError, match="process-id"):
        initialize_from_args(
            parser.parse_args(["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"])
        )
    with pytest.raises(ValueError, match="HOST:PORT"):
        initialize_from_args(parser.parse_args(["--coordinator", "h"]))
    assert parser.parse_args(["--distributed"]).distributed


def test_one_process_helpers():
    assert _processes.layout() == (0, 1) and _processes.is_main()
    assert _processes.share(range(5)) == [0, 1, 2, 3, 4]
    assert _processes.share(range(5), _processes.Layout(1, 2)) == [1, 3]
    assert _processes.broadcast(lambda: {"a": 1}) == {"a": 1}
    _processes.barrier()  # no-op
    with pytest.raises(ZeroDivisionError), _processes.abort_on_error():
        _ = 1 / 0


def test_rare_folder_resumes_and_refuses_other_parameters(tmp_path, single):
    _, rows = single
    rows = [rare.TailRow(**r) for r in rows]
    folder = tmp_path / "rare"
    # first W only, then the full grid: the first W's replicas are reused
    rare.f_aval_tail(**{**RARE, "Ws": RARE["Ws"][:1]}, key=jax.random.key(7), folder=folder)
    stamp = (folder / "W60.0_r0.npz").stat().st_mtime_ns
    seen = []
    again = rare.f_aval_tail(**RARE, key=jax.random.key(7), folder=folder, callback=seen.append)
    assert (folder / "W60.0_r0.npz").stat().st_mtime_ns == stamp
    assert seen == again
    for a, b in zip(rows, again):
        np.testing.assert_equal(a._replace(seconds=0)._asdict(), b._replace(seconds=0)._asdict())
    with pytest.raises(ValueError, match="other parameters"):
        rare.f_aval_tail(**{**RARE, "n": 30}, key=jax.random.key(7), folder=folder)
    with pytest.raises(ValueError, match="other parameters"):
        rare.f_aval_tail(**RARE, key=jax.random.key(8), folder=folder)
