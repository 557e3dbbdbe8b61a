"""``jaxmf reproduce``: every figure of the paper and REPORT.md."""

from __future__ import annotations

from ._args import UsageError
from ._output import SUMMARY, check_folder
from ._verb import Verb, add_common, default, start

OUT = "jaxmf-figures"
"""The default folder, that of `jaxmf.paper.run` (jaxmf.paper, with matplotlib, is
imported only when the verb runs)."""


def arguments(p):
    p.add_argument(
        "--quick",
        action="store_true",
        help="smaller ensembles (README: measured times per figure group)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="FIG",
        help="only these figure groups (fig1d fig2 fig3 fig4 fig5 rare)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="folder for the figures (PNG, PDF), their data (JSON), REPORT.md "
        f"and summary.json; created if absent (default: {OUT})",
    )
    add_common(p)


def _finished(folder):
    done = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    return (
        f"finished figure data in {folder}: {', '.join(done)}"
        if done
        else "no figure group had finished"
    )


def main(a, argv, state):
    from ..paper import REGISTRY, run

    a.out = default(run, "out") if a.out is None else a.out
    folder = check_folder(a.out)
    unknown = sorted(set(a.only or ()) - set(REGISTRY))
    if unknown:
        raise UsageError(f"--only: unknown figure group(s) {unknown}; choose from {list(REGISTRY)}")
    out = start(a, argv)
    state["note"] = lambda: _finished(folder)
    report = run(
        folder,
        quick=a.quick,
        only=a.only,
        progress=not a.quiet,
        metadata={"command": ["jaxmf", *argv]},
    )
    out.file = folder / SUMMARY
    out.save(
        {
            "report": report.name,
            "groups": [n for n in REGISTRY if not a.only or n in a.only],
            "files": sorted(p.name for p in folder.iterdir() if p.is_file()),
        }
    )
    out.say(f"figures, data and {report.name} written to {folder}")
    out.finish()


VERB = Verb(
    "reproduce",
    "regenerate every figure of the paper and REPORT.md",
    "Compute and plot every figure group of the paper (or --only some) and write "
    "REPORT.md, the paper's numbers next to this run's with a computed verdict. Finished "
    "groups stay on disk.",
    arguments,
    main,
)
