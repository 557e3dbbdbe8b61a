"""The `jaxmf` command: every verb with good and bad arguments, its files and errors.

Good runs go through ``cli.main`` in this process (tiny sizes, shared compilations);
bad arguments and interruptions run the real command in a subprocess, where the exit
status, the single line on stderr and the absence of a traceback are what a user sees.
"""

import functools
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxmf import Status, cli
from jaxmf.cli import VERBS

# CPU unless the caller chose a platform: the one stderr line must not meet backend notices
ENV = {"JAX_PLATFORMS": "cpu", **os.environ, "OPENBLAS_NUM_THREADS": "1"}
METADATA = {"jaxmf_version", "jax_version", "device", "command", "parameters", "time"}


def jaxmf(*argv, timeout=120, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "jaxmf.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        cwd=cwd,
        check=False,
    )


def file_mode_ok(path):
    mask = os.umask(0)
    os.umask(mask)
    return (path.stat().st_mode & 0o777) == (0o666 & ~mask)


def read_doc(path, verb):
    """The JSON result file: one metadata block naming the command, and a result."""
    doc = json.loads(path.read_text())
    assert set(doc) == {"metadata", "result"}
    assert METADATA <= set(doc["metadata"])
    assert doc["metadata"]["command"][:2] == ["jaxmf", verb]
    assert doc["metadata"]["device"]["platform"]
    assert file_mode_ok(path)
    return doc


def run_main(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# --------------------------------------------------------------------------- good runs
def test_eta_summary_file_and_json(tmp_path, capsys):
    path = tmp_path / "eta.json"
    status, out, _ = run_main(capsys, "eta", "--g", 0, 0.1, 10, "--dist", "poisson", "--out", path)
    assert status == 0
    assert out.splitlines()[0].startswith("g = 0: eta = 0,") and len(out.splitlines()) == 4
    res = read_doc(path, "eta")["result"]
    assert res["eta"][0] == 0.0 and res["eta"][2] == pytest.approx(np.log(2), abs=1e-6)
    assert read_doc(path, "eta")["metadata"]["parameters"]["dist"] == "poisson"
    status, out, _ = run_main(capsys, "eta", "--g", 1, "--json")
    assert status == 0 and json.loads(out)["result"]["g"] == [1.0]


def test_chain_writes_result_with_metadata(tmp_path, capsys):
    path = tmp_path / "chain.json"
    status, out, _ = run_main(
        capsys, "chain", "--N", 50, "--alpha", 1 / np.sqrt(2) - 0.07, "--out", path
    )
    assert status == 0 and "n_thermal" in out and "converged: yes" in out
    res = read_doc(path, "chain")["result"]
    assert res["N"] == 50 and res["dist"] == "goe" and res["converged"]
    assert 25 < res["n_thermal"] < 35  # the paper's Fig. 3(a) fact, n* ~ 30


def test_critical_coupling(tmp_path, capsys):
    path = tmp_path / "gc.json"
    status, out, _ = run_main(capsys, "critical-coupling", "--N", 100, 1000, "--out", path)
    assert status == 0 and out.count("g_c N log N") == 2
    assert len(read_doc(path, "critical-coupling")["result"]["g_c"]) == 2


def test_critical_coupling_of_huge_n(capsys):
    """--N 1e16 used to print g_c N log N = 0.0023 (0.084 is right: the fold solved in
    log space, checked against a root finder in test_symmetric) and
    --N 100000000000000000000 a TypeError traceback."""
    status, out, err = run_main(
        capsys, "critical-coupling", "--N", "1e16", "100000000000000000000", "1e20"
    )
    assert status == 0, err
    scaled = [float(line.rsplit("= ", 1)[1]) for line in out.splitlines()]
    assert scaled[0] == pytest.approx(0.0843, abs=2e-4)
    assert scaled[1] == scaled[2] == pytest.approx(0.0854, abs=2e-4)


def test_lattice_couplings_underflowing_to_zero_are_still_sites(capsys):
    """At W = 1e300, 24 of the 25 couplings of R = 3 underflow to exactly 0; the flag
    used to count only the one left ("avalanche: yes"). It counts all 25 sites and says
    that the couplings underflowed."""
    status, out, _ = run_main(capsys, "lattice", "--R", 3, "--W", 1e300, "--theta0", 0.3, "--json")
    res = json.loads(out)["result"]
    assert status == 0 and res["N"] == 25 and res["avalanche"] is False
    assert res["couplings_underflowed"] == 24
    status, out, _ = run_main(capsys, "lattice", "--R", 3, "--W", 1e300, "--theta0", 0.3)
    assert "avalanche: no" in out and "24 of 25 bare couplings underflowed" in out


def test_lattice_qp_and_random(tmp_path, capsys):
    path = tmp_path / "lattice.json"
    status, out, _ = run_main(
        capsys, "lattice", "--R", 4, "--W", 200, "--theta0", 0.3, "--out", path
    )
    assert status == 0 and "avalanche: no" in out
    doc = read_doc(path, "lattice")
    assert doc["result"]["N"] == 41 and doc["result"]["converged"]
    assert "seed" not in doc["metadata"]  # QP: no seed
    status, out, _ = run_main(
        capsys, "lattice", "--R", 0, "--W", 20, "--kind", "random", "--g0", 0, "--json"
    )
    doc = json.loads(out)
    assert status == 0 and doc["metadata"]["seed"] == 0 and doc["result"]["N"] == 1


def test_ed(tmp_path, capsys):
    path = tmp_path / "ed.json"
    status, out, _ = run_main(capsys, "ed", "--N", 3, "--alpha", 0.6, "--samples", 2, "--out", path)
    assert status == 0 and "[S_end]" in out
    doc = read_doc(path, "ed")
    assert doc["metadata"]["seed"] == 0 and doc["result"]["D"] == 64
    assert 0 < doc["result"]["mean_all"] < np.log(2)


def test_threshold_prints_distinct_bracket_ends_and_fold(tmp_path, capsys):
    path = tmp_path / "threshold.json"
    status, out, _ = run_main(capsys, "threshold", "--R", 4, "--theta0", 2.954, "--out", path)
    assert status == 0
    line = out.splitlines()[0]
    W_aval = float(line.split("W_aval = ")[1].split(",")[0])
    W_fail = float(line.split("W_fail = ")[1].split(";")[0])
    assert 60 < W_aval < W_fail < W_aval * (1 + 1e-8) and "(ok)" in line and "+-" in line
    phase = read_doc(path, "threshold")["result"]["phases"][0]
    assert phase["status"] == Status.OK.message and phase["W_aval"] == pytest.approx(W_aval)


def test_rare_rows_metadata_and_reliability_in_summary(tmp_path, capsys):
    path = tmp_path / "rare.json"
    status, out, err = run_main(
        capsys,
        "rare",
        "--R",
        1,
        "--W",
        20,
        "--g0",
        0.2,
        0.1,
        "--n",
        50,
        "--replicas",
        2,
        "--out",
        path,
    )
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 3 and all("reliable: no" in x for x in lines[:2])  # 2 replicas
    assert "R=1 W=20:" in err and "R=1 W=20:" not in out  # progress on stderr only
    doc = read_doc(path, "rare")
    assert doc["result"]["complete"] and doc["metadata"]["seed"] == 0
    f = [r["f"] for r in doc["result"]["rows"]]
    assert len(f) == 2 and 0 <= f[1] <= f[0] <= 1  # smaller g0 avalanches less
    status, _, err = run_main(
        capsys, "rare", "--R", 1, "--W", 20, "--g0", 0.2, "--n", 50, "--replicas", 2, "--quiet"
    )
    assert status == 0 and "R=1 W=20" not in err and "level" not in err


def test_sweep_folder_summary_and_resume(tmp_path, capsys):
    folder = tmp_path / "sweep"
    argv = ["sweep", "--out", folder, "--R", 1, "--W", 20, 200, "--samples", 4, "--quiet"]
    status, out, _ = run_main(capsys, *argv)
    assert status == 0 and "W =    20.0000  1.0000" in out
    doc = read_doc(folder / "summary.json", "sweep")
    assert doc["result"]["complete"] and doc["result"]["f_aval"][0] == [1.0]
    assert run_main(capsys, *argv)[0] == 0  # resumes: nothing left to compute
    status, _, err = run_main(capsys, "sweep", "--out", folder, "--R", 1, "--W", 30)
    assert status == 2 and "other parameters" in err and len(err.splitlines()) == 1


def test_goe_table_defaults_to_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = run_main(capsys, "goe-table", "--samples", 2048, "--quiet")
    path = tmp_path / "ptilde_goe.npz"
    assert status == 0 and "ptilde_goe.npz" in out and file_mode_ok(path)
    with np.load(path) as z:
        meta = json.loads(str(z["metadata"]))
        assert METADATA <= set(meta) and meta["seed"] == z["seed"]
        assert z["n_samples"] == 2048 and np.all(np.diff(z["cdf"]) >= 0)


def test_eta_table_interrupted_resumes_to_the_same_table(tmp_path, capsys, monkeypatch):
    """An interrupted build keeps its finished chunks and the rerun completes them to
    the table of an uninterrupted build (a 3-chunk grid instead of 112)."""
    from jaxmf.tables import eta as eta_table

    monkeypatch.setattr(eta_table, "LOG10_G_MIN", 0.0)
    monkeypatch.setattr(eta_table, "LOG10_G_MAX", 0.5)
    reference = eta_table.build_eta_table("poisson", tmp_path / "ref.npz", progress=False)
    path = tmp_path / "eta.npz"
    partial = eta_table.partial_path(path)
    writes, real_write = [], eta_table.atomic_write

    def interrupt_after_two(target, write):
        real_write(target, write)
        writes.append(target)
        if len(writes) == 2 and str(target) == str(partial):
            raise KeyboardInterrupt

    monkeypatch.setattr(eta_table, "atomic_write", interrupt_after_two)
    argv = ["eta-table", "--dist", "poisson", "--out", path, "--quiet"]
    status, _, err = run_main(capsys, *argv)
    assert status == 130 and err.count("\n") == 1 and "rerun" in err
    assert not path.exists()
    with np.load(partial) as z:
        assert len(z["log_eta"]) == 34  # two chunks of 17 nodes
    writes.clear()
    assert run_main(capsys, *argv)[0] == 0
    # one chunk left to do
    assert [str(w) for w in writes] == [str(partial), str(path)] and not partial.exists()
    with np.load(path) as z, np.load(reference) as ref:
        assert np.array_equal(z["log_eta"], ref["log_eta"])
        assert np.array_equal(z["dlog_eta"], ref["dlog_eta"])
        assert json.loads(str(z["metadata"]))["command"][1] == "eta-table"


def test_reproduce_subset_writes_figures_report_and_summary(tmp_path, capsys):
    status, out, err = run_main(
        capsys, "reproduce", "--quick", "--out", tmp_path, "--only", "fig1d"
    )
    assert status == 0 and "[jaxmf] fig1d" in err and "[jaxmf]" not in out
    assert (tmp_path / "fig1d_eta.png").stat().st_size > 1000
    assert (tmp_path / "fig1d_eta.pdf").exists()
    report = (tmp_path / "REPORT.md").read_text()
    assert "| claim" in report and "g^-4" in report
    assert "REPORT.md" in read_doc(tmp_path / "summary.json", "reproduce")["result"]["files"]


# --------------------------------------------------------------------------- the grammar
def test_every_verb_and_flag_has_help():
    sub = next(a for a in cli.build_parser()._actions if a.dest == "verb")
    assert sorted(sub.choices) == sorted(v.name for v in VERBS)
    for name, parser in sub.choices.items():
        assert parser.description and len(parser.description) > 40, name
        flags = [a for a in parser._actions if a.dest != "help"]
        assert {"out", "quiet", "json"} <= {a.dest for a in flags}, name
        for action in flags:
            assert action.help and len(action.help) > 10, (name, action.dest)


def test_defaults_equal_the_api():
    from jaxmf.analysis import rare, thresholds
    from jaxmf.models import chain, lattice
    from jaxmf.paper import run
    from jaxmf.tables import goe

    def default(fn, name):
        return inspect.signature(fn).parameters[name].default

    p = cli.build_parser()
    a = p.parse_args(["rare", "--R", "1", "--W", "20"])
    assert (a.n, a.replicas, a.thin, a.max_levels, tuple(a.g0), a.dist) == tuple(
        default(rare.f_aval_tail, k) for k in ("n", "replicas", "thin", "max_levels", "g0", "dist")
    )
    assert a.thin == rare.THIN
    a = p.parse_args(["threshold", "--R", "1", "--theta0", "0"])
    assert (a.g0, a.W_min, a.W_max, a.n_scan, a.rtol) == tuple(
        default(thresholds.threshold_W, k) for k in ("g0", "W_min", "W_max", "n_scan", "rtol")
    )
    assert p.parse_args(["chain", "--N", "2", "--alpha", "0.5"]).g10 == default(
        chain.drh_log_couplings, "g10"
    )
    a = p.parse_args(["lattice", "--R", "1", "--W", "1", "--theta0", "0"])
    assert (a.g0, a.kind) == (
        default(lattice.bare_couplings, "g0"),
        default(lattice.bare_couplings, "kind"),
    )
    a = p.parse_args(["goe-table"])
    assert (a.samples, a.seed) == (default(goe.build, "n_samples"), default(goe.build, "seed"))
    assert "default: " + default(run, "out") in " ".join(
        x.help for x in p._subparsers._group_actions[0].choices["reproduce"]._actions
    )


# --------------------------------------------------------------------------- bad arguments
BAD = [
    # (argv, exit status, words of the one error line); {tmp}: an existing folder,
    # {file}: an existing regular file
    (["reproduce", "--out", "/proc/x", "--quick"], 2, "/proc"),
    (["reproduce", "--out", "{file}"], 2, "not a folder"),
    (["reproduce", "--only", "fig99", "--out", "{tmp}/r"], 2, "fig99"),
    (
        ["sweep", "--out", "{tmp}/s", "--R", "1", "--W", "1", "--kind", "random", "--theta0", "1"],
        2,
        "jaxmf sweep: error: unrecognized arguments: --theta0 1",
    ),
    (["critical-coupling", "--N", "1.5"], 2, "--N must be an integer >= 2"),
    (["eta", "--g", "-0.1"], 2, "--g must be a finite number >= 0"),
    (["eta", "--g", "1", "--dist", "wigner"], 2, "--dist"),
    (["eta", "--g", "1", "--out", "{tmp}"], 2, "is a folder"),
    (["chain", "--N", "0", "--alpha", "0.6"], 2, "--N must be an integer >= 1"),
    (["chain", "--N", "10", "--alpha", "-1"], 2, "--alpha must be a finite number > 0"),
    (["chain", "--N", "10"], 2, "required: --alpha"),
    (["chain", "--N", "10", "--alpha", "0.6", "--out", "{tmp}"], 2, "is a folder"),
    (["critical-coupling", "--N", "1"], 2, "--N must be an integer >= 2"),
    (
        ["critical-coupling", "--N", "100", "--out", "/nonexistent/gc.json"],
        2,
        "/nonexistent does not exist",
    ),
    (
        ["lattice", "--R", "4", "--W", "60", "--theta0", "nan"],
        2,
        "--theta0 must be a finite number",
    ),
    (["lattice", "--R", "4", "--W", "60"], 2, "--kind qp needs --theta0"),
    (["lattice", "--R", "-1", "--W", "60", "--theta0", "1"], 2, "--R must be an integer >= 0"),
    (["lattice", "--R", "4", "--W", "60", "--theta0", "1", "--g0", "-1"], 2, "--g0 must"),
    (
        ["lattice", "--R", "4", "--W", "60", "--kind", "random", "--theta0", "1"],
        2,
        "--theta0 is for --kind qp",
    ),
    (["sweep", "--out", "/proc/foo", "--R", "1", "--W", "20"], 2, "/proc"),
    (["sweep", "--out", "{file}", "--R", "1", "--W", "20"], 2, "not a folder"),
    (["sweep", "--out", "{tmp}/s", "--R", "1", "1", "--W", "20"], 2, "--R must not repeat"),
    (["ed", "--N", "30", "--alpha", "0.6"], 2, "GiB"),
    (["ed", "--N", "4", "--alpha", "inf"], 2, "--alpha must be a finite number"),
    (
        ["threshold", "--R", "4", "--theta0", "0.3", "--W-min", "50", "--W-max", "40"],
        2,
        "--W-min must be < --W-max",
    ),
    (["threshold", "--R", "4", "--theta0", "nan"], 2, "--theta0 must be a finite number"),
    (
        ["threshold", "--R", "4", "--theta0", "0.3", "--W-max", "30"],
        1,
        Status.AVALANCHE_AT_MAX.message,
    ),
    (["rare", "--R", "1", "--W", "-5"], 2, "--W must be a finite number > 0"),
    (["rare", "--R", "1", "--W", "20", "--n", "55"], 2, "multiple of 10"),
    (["rare", "--R", "1", "--W", "20", "--g0", "0"], 2, "--g0 must"),
    (["eta-table", "--out", "/nonexistent/eta.npz"], 2, "does not exist"),
    (["eta-table", "--out", "{tmp}"], 2, "is a folder"),
    (["goe-table", "--samples", "0"], 2, "--samples must"),
    (["goe-table", "--out", "/proc/goe.npz"], 2, "/proc"),
    (["frobnicate"], 2, "invalid choice"),
    ([], 2, "required"),
]


@pytest.mark.parametrize("argv, status, words", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_arguments_one_line_no_traceback(argv, status, words, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    argv = [a.format(tmp=tmp_path, file=tmp_path / "file") for a in argv]
    proc = jaxmf(*argv)
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxmf") and "error: " in lines[0]
    assert words in lines[0]
    if status == 2:
        assert proc.stdout == ""
        assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written


@pytest.mark.parametrize(
    "argv",
    [
        ["rare", "--R", "10", "--W", "300", "--out", "/nonexistent/rare.json"],
        ["sweep", "--out", "/proc/sweep", "--R", "10", "--W", "20", "--samples", "100000"],
        ["eta-table", "--out", "/nonexistent/eta.npz"],
        ["ed", "--N", "10", "--alpha", "0.5", "--samples", "1000", "--out", "/proc/ed.json"],
    ],
)
def test_bad_out_is_refused_before_computing(argv, tmp_path):
    """Each of these would compute for minutes before writing."""
    t0 = time.time()
    proc = jaxmf(*[a.format(tmp=tmp_path) for a in argv], timeout=60)
    assert proc.returncode == 2 and "--out" in proc.stderr
    assert time.time() - t0 < 30 and list(tmp_path.iterdir()) == []


def test_changed_sweep_refusal_is_short(tmp_path, capsys):
    """Rerunning a QP sweep folder as a random one is refused in one short line: the
    theta0 grid is named by its length, not printed."""
    folder = tmp_path / "sw"
    assert (
        run_main(capsys, "sweep", "--out", folder, "--R", 0, "--W", 5, "--samples", 64, "--quiet")[
            0
        ]
        == 0
    )
    status, _, err = run_main(
        capsys,
        "sweep",
        "--out",
        folder,
        "--R",
        0,
        "--W",
        5,
        "--samples",
        64,
        "--kind",
        "random",
        "--quiet",
    )
    assert status == 2 and err.count("\n") == 1 and len(err) < 400
    assert err.startswith("jaxmf sweep: error:") and "<64 values>" in err


def test_interruption_before_any_file_says_nothing_was_kept(tmp_path, capsys, monkeypatch):
    """rare and eta-table used to name FILE / NAME.partial.npz as holding the finished
    part although nothing had been written."""
    from jaxmf.analysis import rare
    from jaxmf.tables import eta as eta_table

    @functools.wraps(rare.f_aval_tail)  # the parser reads its defaults
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rare, "f_aval_tail", stop)
    status, _, err = run_main(capsys, "rare", "--R", 1, "--W", 20, "--out", tmp_path / "rare.json")
    assert status == 130 and err == "jaxmf rare: interrupted; no W point had finished\n"
    monkeypatch.setattr(eta_table, "atomic_write", stop)
    status, _, err = run_main(capsys, "eta-table", "--out", tmp_path / "eta.npz", "--quiet")
    assert status == 130
    assert err == "jaxmf eta-table: interrupted; no chunk of nodes had finished\n"
    assert list(tmp_path.iterdir()) == []


def test_killed_rare_keeps_finished_rows(tmp_path):
    """SIGKILL after the first W point: the file holds it, complete and valid."""
    path = tmp_path / "rare.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jaxmf.cli",
            "rare",
            "--R",
            "2",
            "--W",
            "20",
            "3000",
            "--g0",
            "1",
            "--n",
            "50",
            "--replicas",
            "3",
            "--quiet",
            "--out",
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    try:
        deadline = time.time() + 90
        while not path.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    doc = read_doc(path, "rare")
    assert doc["result"]["complete"] is False
    assert [r["W"] for r in doc["result"]["rows"]] == [20.0] and doc["result"]["rows"][0]["f"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["rare.json"]  # no temporary left over


@pytest.mark.slow
def test_terminated_eta_table_says_so_and_resumes(tmp_path):
    """SIGTERM: one line, exit 143, the partial file kept; the rerun gives the shipped
    poisson table exactly."""
    from importlib import resources

    path = tmp_path / "eta.npz"
    argv = [
        sys.executable,
        "-m",
        "jaxmf.cli",
        "eta-table",
        "--dist",
        "poisson",
        "--quiet",
        "--out",
        str(path),
    ]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )
    partial = tmp_path / "eta.partial.npz"
    while not partial.exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.count("\n") == 1 and "interrupted" in err
    assert partial.exists() and not path.exists()
    assert subprocess.run(argv, env=ENV, timeout=600, check=False).returncode == 0
    shipped = resources.files("jaxmf.data").joinpath("eta_poisson.npz")
    with np.load(path) as z, shipped.open("rb") as fh, np.load(fh) as ref:
        assert np.array_equal(z["log_eta"], ref["log_eta"])


def _slurm_port():
    """A SLURM job id whose coordinator port (JAX: job id mod 4096 + 61440) is free."""
    import socket

    for job in range(1000, 5096):
        port = job % 4096 + 61440
        with socket.socket() as s:
            try:
                s.bind(("localhost", port))
            except OSError:
                continue
        return job, port
    pytest.skip("no free port in 61440-65535")


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["flags", "slurm"])
def test_sweep_verb_with_two_processes_equals_one(tmp_path, layout):
    """`jaxmf sweep` as two processes, the layout given by --coordinator/--num-processes/
    --process-id, or by --distributed inside a (simulated) SLURM step on localhost: the
    same summary as one process (the realizations' keys do not depend on the process
    count)."""
    job, port = _slurm_port()
    args = ["sweep", "--R", "2", "--W", "10", "50", "--kind", "random", "--samples", "8", "--quiet"]
    one = subprocess.run(
        [sys.executable, "-m", "jaxmf.cli", *args, "--out", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0 and one.stdout, one.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    if layout == "flags":
        extra = [
            ["--coordinator", f"localhost:{port}", "--num-processes", "2", "--process-id", str(i)]
            for i in range(2)
        ]
        envs = [env, env]
    else:  # what srun sets for a 2-task step on one node
        extra = [["--distributed"]] * 2
        envs = [
            {
                **env,
                "SLURM_JOB_ID": str(job),
                "SLURM_STEP_NODELIST": "localhost",
                "SLURM_NTASKS": "2",
                "SLURM_PROCID": str(i),
                "SLURM_LOCALID": str(i),
                "SLURM_STEP_NUM_NODES": "1",
            }
            for i in range(2)
        ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "jaxmf.cli", *args, "--out", str(tmp_path / "two"), *extra[i]],
            env=envs[i],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert outs[1][0] == ""  # only process 0 prints the summary
    a = json.loads((tmp_path / "one" / "summary.json").read_text())["result"]
    b = json.loads((tmp_path / "two" / "summary.json").read_text())["result"]
    assert a["eta_mean"] == b["eta_mean"] and a["f_aval"] == b["f_aval"]


# --------------------------------------------------------------------------- interruptions
def start_jaxmf(*argv):
    return subprocess.Popen(
        [sys.executable, "-m", "jaxmf.cli", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def wait_for(proc, ready, timeout=600):
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    assert ready(), "did not get going in time"


def interrupt(proc, sig, after=0.5):
    time.sleep(after)
    t0 = time.time()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return out, err, time.time() - t0


ED = ["ed", "--N", 7, "--alpha", 0.6, "--samples", 6, "--max-memory", 0.1]  # 2 per batch


@pytest.mark.parametrize(
    "sig, status", [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)]
)
def test_ed_stops_inside_a_batch_and_keeps_the_finished_ones(tmp_path, sig, status):
    """`jaxmf ed` used to ignore Ctrl-C and SIGTERM (one long XLA call): now it stops in
    the middle of a batch, says so in one line (below the progress bar) with the resume
    hint, and the file holds the finished batch."""
    path = tmp_path / "ed.json"
    proc = start_jaxmf(*ED, "--out", path)
    wait_for(proc, path.exists)
    _, err, waited = interrupt(proc, sig, after=0.05)  # inside the second batch
    assert proc.returncode == status, err
    last = err.splitlines()[-1]
    # the first batch was on disk when the signal was sent; on a fast machine the second
    # may finish before it lands, so 2 or 4 (whole batches) are in, never the running one
    done = re.match(r"jaxmf ed: interrupted; (\d+) of 6 realizations are in", last)
    assert done is not None and int(done[1]) in (2, 4), last
    assert "rerun the same command to resume" in last and "Traceback" not in err
    assert "ed N=7" in err.splitlines()[-2]  # the progress bar ends its line first
    res = read_doc(path, "ed")["result"]
    assert res["complete"] is False and res["samples_done"] == int(done[1])
    assert [p.name for p in tmp_path.iterdir()] == ["ed.json"]


@pytest.mark.slow
def test_interrupted_ed_resumes_to_the_uninterrupted_realizations(tmp_path):
    """The rerun completes the stored run; every realization equals the library's
    drh_ensemble on the same keys (split(key(0), 6))."""
    import jax

    from jaxmf.analysis.ed_statistics import entropy_statistics
    from jaxmf.models import ed

    path = tmp_path / "ed.json"
    proc = start_jaxmf(*ED, "--out", path, "--quiet")
    wait_for(proc, path.exists)
    interrupt(proc, signal.SIGINT)
    assert proc.returncode == 130
    again = jaxmf(*ED, "--out", path, "--quiet", timeout=600)
    assert again.returncode == 0, again.stderr
    res = read_doc(path, "ed")["result"]
    ref = ed.drh_ensemble(7, 0.6, key=jax.random.split(jax.random.key(0), 6))
    st = entropy_statistics(ref.entropy)
    assert res["complete"] is True and res["samples_done"] == 6
    np.testing.assert_allclose(res["per_sample_all"], st.per_sample_all, rtol=1e-12)
    np.testing.assert_allclose(res["memory"], ref.memory, rtol=1e-10)


@pytest.mark.parametrize(
    "delay",
    [0.0, pytest.param(0.7, marks=pytest.mark.slow), pytest.param(1.9, marks=pytest.mark.slow)],
)
def test_interrupted_host_spectral_sweep_exits_130_with_intact_chunks(tmp_path, delay):
    """Ctrl-C in a sweep at R = 10 (the host banded spectral route, a callback) used to
    give, about one time in two, a traceback, a CpuCallback error and exit 2: now 130,
    one line with the resume hint, whatever the moment; the chunks on disk load and the
    rerun completes the sweep."""
    folder = tmp_path / "sw"
    argv = [
        "sweep",
        "--out",
        folder,
        "--R",
        10,
        "--W",
        60,
        140,
        "--samples",
        600,
        "--kind",
        "random",
        "--seed",
        5,
    ]
    proc = start_jaxmf(*argv)
    chunks = folder / "chunks"
    wait_for(proc, lambda: chunks.is_dir() and any(chunks.glob("R*.npz")))
    _, err, _ = interrupt(proc, signal.SIGINT, after=delay)
    assert proc.returncode == 130, err
    last = err.splitlines()[-1]
    assert last.startswith("jaxmf sweep: interrupted;") and "rerun" in last
    assert "Traceback" not in err and "CpuCallback" not in err
    for chunk in chunks.iterdir():
        assert not chunk.name.startswith(".")
        with np.load(chunk) as z:
            assert np.isfinite(z["eta_tot"]).all()
