"""`jaxmf reproduce`: every figure of the paper, and REPORT.md with the numbers.

Each figure group is a module of :mod:`jaxmf.paper` with

    compute(quick, workdir) -> (data, rows)     data: plain dicts/arrays (saved as JSON),
                                                rows: report lines (claim, paper,
                                                this run, agreement)
    plot(data) -> {name: matplotlib Figure}

and QUICK / FULL sizes. :data:`REGISTRY` lists them in report order. Figures are
written as PNG and PDF, data as JSON, all under ``out``; ``workdir`` (= ``out``) keeps
resumable intermediate results such as sweeps.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .._io import to_builtin
from .._version import __version__
from . import fig1d, fig2, fig3, fig4, fig5, rare

REGISTRY = {"fig1d": fig1d, "fig2": fig2, "fig3": fig3, "fig4": fig4, "fig5": fig5,
            "rare": rare}
"""Figure groups of the paper, in report order: name -> module (compute, plot)."""


def run(out: str | Path = "jaxmf-figures", quick: bool = False, only=None, progress=True):
    """Compute and plot every figure group (or ``only`` these); write REPORT.md.

    Returns:
        the path of REPORT.md.
    """
    from ..plot._axes import pyplot, save

    names = list(REGISTRY)
    if only:
        unknown = set(only) - set(REGISTRY)
        if unknown:
            raise ValueError(f"unknown figure(s) {sorted(unknown)}; choose from {names}")
        names = [n for n in names if n in only]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, timings = [], {}
    t_all = time.time()
    for name in names:
        task = REGISTRY[name]
        t0 = time.time()
        if progress:
            print(f"[jaxmf] {name} ...", flush=True)
        data, r = task.compute(quick, out)
        for fig_name, fig in task.plot(data).items():
            save(fig, out, fig_name)
        pyplot().close("all")
        (out / f"{name}.json").write_text(json.dumps(to_builtin(data)))
        rows += r
        timings[name] = time.time() - t0
        if progress:
            print(f"[jaxmf] {name} done in {timings[name]:.1f} s", flush=True)
    report = out / "REPORT.md"
    report.write_text(_report(rows, timings, time.time() - t_all, quick))
    return report


def _report(rows, timings, total, quick):
    import jax

    lines = [
        "# jaxmf reproduction report",
        "",
        f"jaxmf {__version__}, jax {jax.__version__}, device {jax.devices()[0].platform}, "
        f"{'--quick' if quick else 'full'} run, {total:.0f} s in total. Entropies in nats. "
        "Default ptilde family: goe (see docs/theory.md for the open points).",
        "",
        "| claim (paper) | paper | this run | agreement |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c} | {p} | {t} | {a} |" for c, p, t, a in rows]
    lines += ["", "Time per figure group: "
              + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()), ""]
    return "\n".join(lines)
