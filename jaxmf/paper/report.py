"""What a figure group of `jaxmf reproduce` is, and the rows of REPORT.md.

A figure group is a module with the members of `FigureGroup`; each report row is a
`Row` whose verdict is computed from the run's numbers by `within` (the paper states a
number: agrees / differs, with the tolerance written in the row) or `holds` (the paper
states no number: "qualitative: holds" / "qualitative: fails"), so a regression changes
the report.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

AGREES, DIFFERS = "agrees", "differs"
HOLDS, FAILS = "qualitative: holds", "qualitative: fails"


class Row(NamedTuple):
    """One claim of the paper against this run.

    Attributes:
        claim: what the paper says.
        paper: the paper's number (or statement, for a qualitative claim).
        run: this run's numbers.
        tolerance: how far the run may be from the paper and still agree.
        verdict: computed: agrees / differs / qualitative: holds / qualitative: fails.
    """

    claim: str
    paper: str
    run: str
    tolerance: str
    verdict: str


def within(value, paper_value, tol, err=0.0) -> str:
    """agrees if |value - paper_value| <= tol + 2 err (err: the run's standard error)."""
    ok = abs(float(value) - float(paper_value)) <= tol + 2.0 * float(err)
    return AGREES if ok else DIFFERS


def holds(condition) -> str:
    """The verdict of a qualitative claim (no number in the paper) tested on the run."""
    return HOLDS if bool(condition) else FAILS


@runtime_checkable
class FigureGroup(Protocol):
    """A figure group of the paper: a module of :mod:`jaxmf.paper` with these members.

    Attributes:
        TITLE: the figure's name in progress lines.
        QUICK, FULL: the sizes of ``reproduce --quick`` and of the full run (empty
            when the group has one size).
    """

    @property
    def TITLE(self) -> str: ...  # noqa: N802 (module constants)

    @property
    def QUICK(self) -> Mapping[str, Any]: ...  # noqa: N802

    @property
    def FULL(self) -> Mapping[str, Any]: ...  # noqa: N802

    def compute(self, quick: bool, workdir: Path, progress: bool = False) -> tuple[dict, list[Row]]:
        """The figure's data (plain values, saved as JSON) and its report rows;
        ``workdir`` keeps resumable intermediate results (sweeps); ``progress``: one
        line on stderr per long stage (see `stage`)."""
        ...

    def plot(self, data: dict) -> dict:
        """{file name: matplotlib Figure} from the data of `compute` (or its JSON)."""
        ...


def stage(progress: bool, text: str):
    """A progress line of a long stage of a figure group, on stderr."""
    if progress:
        print(f"[jaxmf]   {text}", file=sys.stderr, flush=True)


def table(rows) -> list[str]:
    """The Markdown table of REPORT.md."""
    lines = ["| claim (paper) | paper | this run | tolerance | verdict |", "|---|---|---|---|---|"]
    return lines + [
        f"| {r.claim} | {r.paper} | {r.run} | {r.tolerance} | {r.verdict} |" for r in rows
    ]
