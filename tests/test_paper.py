"""`jaxmf reproduce`'s figure groups: the contract, and verdicts computed from the run."""

import inspect

import numpy as np
import pytest

from jaxmf.paper import REGISTRY, fig1d
from jaxmf.paper.report import AGREES, DIFFERS, FAILS, HOLDS, FigureGroup, Row, holds, within


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_group_is_a_figure_group(name):
    group = REGISTRY[name]
    assert isinstance(group, FigureGroup)
    assert list(inspect.signature(group.compute).parameters)[:3] == ["quick", "workdir", "progress"]


def test_verdicts():
    assert within(0.95, 1.0, 0.1) == AGREES and within(0.8, 1.0, 0.1) == DIFFERS
    assert within(0.8, 1.0, 0.1, err=0.06) == AGREES  # 2 standard errors widen it
    assert within(np.nan, 1.0, 0.1) == DIFFERS
    assert holds(True) == HOLDS and holds(np.bool_(False)) == FAILS


def test_fig1d_verdicts_follow_the_numbers(tmp_path, monkeypatch):
    """The report of a correct eta agrees with the paper; a regressed eta (a wrong
    small-g slope, a wrong decay) changes both verdicts."""
    _, rows = fig1d.compute(True, tmp_path)
    assert all(isinstance(r, Row) for r in rows)
    assert [r.verdict for r in rows] == [AGREES, AGREES]
    # log 2 g^2 / (1 + g^2): decays as g^-2 and starts as g^2
    monkeypatch.setattr(
        fig1d,
        "eta",
        lambda g, dist="goe": np.log(2) * np.asarray(g) ** 2 / (1 + np.asarray(g) ** 2),
    )
    _, rows = fig1d.compute(True, tmp_path)
    assert [r.verdict for r in rows] == [DIFFERS, DIFFERS]


def test_figure_numbers_name_code_only_in_paper_and_plot():
    """Functions and variables outside jaxmf/paper and jaxmf/plot are named for the
    physics, not for a figure of the paper."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).parent.parent / "jaxmf"
    fig = re.compile(r"(^|_)fig_?\d", re.I)
    found = []
    for path in root.rglob("*.py"):
        if path.relative_to(root).parts[0] in ("paper", "plot"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = (
                node.name
                if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                else node.id
                if isinstance(node, ast.Name)
                else node.attr
                if isinstance(node, ast.Attribute)
                else None
            )
            if name and fig.search(name):
                found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    assert not found, found
