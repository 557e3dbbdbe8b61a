"""A new user's path: fresh venv, install from the checkout, `jaxmf reproduce --quick`."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_fresh_venv_install_and_reproduce_quick(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    subprocess.run([str(pip), "install", "--quiet", str(ROOT)], check=True)
    out = tmp_path / "figures"
    proc = subprocess.run(
        [str(venv / "bin" / "jaxmf"), "reproduce", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (out / "REPORT.md").read_text()
    assert "| claim" in report
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "fig1d_eta.png" in pngs and "fig3_drh_chain.png" in pngs
