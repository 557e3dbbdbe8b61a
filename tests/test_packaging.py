"""Packaging: one version source, license and citation files, notebooks that do not
force a non-interactive backend (so Jupyter shows their figures)."""

import importlib.metadata
import tomllib
from pathlib import Path

import jaxmf

ROOT = Path(__file__).parent.parent


def test_one_version_source():
    assert importlib.metadata.version("jaxmf") == jaxmf.__version__
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "jaxmf._version.__version__"
    }
    assert f'version: "{jaxmf.__version__}"' in (ROOT / "CITATION.cff").read_text()


def test_license_citation_changelog():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    cff = (ROOT / "CITATION.cff").read_text()
    assert "10.1103/PhysRevB.106.184208" in cff and "preferred-citation" in cff
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")


def test_notebooks_leave_the_backend_to_jupyter():
    notebooks = sorted((ROOT / "notebooks").glob("*.py"))
    assert notebooks
    for path in notebooks:
        text = path.read_text()
        assert "matplotlib.use(" not in text, path.name
        assert "# %%" in text and "jupytext" in text, path.name


def test_typed_marker_ships():
    """PEP 561: the py.typed marker is in the package and in its package data."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["jaxmf"]
    assert (Path(jaxmf.__file__).parent / "py.typed").is_file()
