"""The `jaxmf` command: verbs, outputs, and one-line errors on bad arguments."""

import json
import subprocess
import sys

import numpy as np
import pytest

from jaxmf import cli


def test_eta_verb_prints_json(capsys):
    assert cli.main(["eta", "--g", "0", "0.1", "10", "--dist", "poisson"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["eta"][0] == 0.0 and out["eta"][2] == pytest.approx(np.log(2), abs=1e-6)


def test_chain_verb_writes_result_with_parameters(tmp_path):
    path = tmp_path / "chain.json"
    assert cli.main(["chain", "--N", "50", "--alpha", str(1 / np.sqrt(2) - 0.07),
                     "--out", str(path)]) == 0
    out = json.loads(path.read_text())
    assert out["N"] == 50 and out["dist"] == "goe" and out["converged"]
    assert 25 < out["n_thermal"] < 35  # the paper's Fig. 3(a) fact, n* ~ 30


def test_critical_coupling_verb(capsys):
    assert cli.main(["critical-coupling", "--N", "100"]) == 0
    assert "g_c N log N" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["chain", "--N", "0", "--alpha", "0.6"],
    ["chain", "--N", "10", "--alpha", "-1"],
    ["eta", "--g", "-0.1"],
    ["eta", "--g", "1", "--dist", "wigner"],
    ["critical-coupling", "--N", "1"],
    ["rare", "--R", "1", "--W", "-5"],
    ["rare", "--R", "1", "--W", "20", "--n", "55"],
])
def test_bad_arguments_one_line_error_nonzero_exit(argv):
    proc = subprocess.run([sys.executable, "-m", "jaxmf.cli", *argv],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "error:" in proc.stderr.strip().splitlines()[-1]


def test_rare_verb_writes_rows_with_parameters(tmp_path):
    path = tmp_path / "rare.json"
    assert cli.main(["rare", "--R", "1", "--W", "20", "--g0", "0.2", "0.1", "--n", "50",
                     "--replicas", "2", "--out", str(path)]) == 0
    out = json.loads(path.read_text())
    assert out["parameters"]["R"] == 1 and out["parameters"]["dist"] == "goe"
    f = [r["f"] for r in out["rows"]]
    assert len(f) == 2 and 0 <= f[1] <= f[0] <= 1  # smaller g0 avalanches less


def test_reproduce_subset_writes_figures_and_report(tmp_path):
    assert cli.main(["reproduce", "--quick", "--out", str(tmp_path), "--only", "fig1d"]) == 0
    assert (tmp_path / "fig1d_eta.png").stat().st_size > 1000
    assert (tmp_path / "fig1d_eta.pdf").exists()
    report = (tmp_path / "REPORT.md").read_text()
    assert "| claim" in report and "g^-4" in report


def test_reproduce_unknown_figure():
    with pytest.raises(ValueError, match="unknown figure"):
        from jaxmf.paper import run
        run("/tmp/never-written", quick=True, only=["fig99"])


def test_lattice_and_threshold_verbs(capsys):
    assert cli.main(["lattice", "--R", "4", "--W", "200", "--theta0", "0.3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["N"] == 41 and out["converged"] and not out["avalanche"]
    assert cli.main(["lattice", "--R", "4", "--W", "60"]) == 2  # qp without theta0
    assert cli.main(["lattice", "--R", "-1", "--W", "60", "--theta0", "1"]) == 2
