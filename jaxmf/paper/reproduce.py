"""`jaxmf reproduce`: every figure of the paper, and REPORT.md with the numbers.

Each figure group is a module of :mod:`jaxmf.paper` with the members of
:class:`jaxmf.paper.report.FigureGroup`: compute(quick, workdir) -> (data, rows),
plot(data) -> {name: Figure}, TITLE and the QUICK / FULL sizes; the rows are
:class:`jaxmf.paper.report.Row` with computed verdicts. :data:`REGISTRY` lists them
in report order. Figures are
written as PNG and PDF, data as JSON, all under ``out``; ``workdir`` (= ``out``) keeps
resumable intermediate results such as sweeps.
"""

from __future__ import annotations

import contextlib
import datetime
import sys
import time
from pathlib import Path

from .._io import atomic_write, write_json
from .._version import __version__
from . import fig1d, fig2, fig3, fig4, fig5, rare
from .report import FigureGroup, table

REGISTRY: dict[str, FigureGroup] = {
    "fig1d": fig1d,
    "fig2": fig2,
    "fig3": fig3,
    "fig4": fig4,
    "fig5": fig5,
    "rare": rare,
}
"""Figure groups of the paper, in report order: name -> module (compute, plot)."""


def run(
    out: str | Path = "jaxmf-figures",
    quick: bool = False,
    only=None,
    progress=True,
    metadata: dict | None = None,
):
    """Compute and plot every figure group (or ``only`` these); write REPORT.md.

    Each group's data goes to ``out/{name}.json`` as ``{"metadata": ..., "result": data}``
    (``metadata``: versions, device, sizes, time, plus what the caller passes); files are
    written atomically as each group finishes. Progress lines go to stderr.

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
    meta = _metadata(quick, metadata)
    rows, timings = [], {}
    t_all = time.time()
    for name in names:
        task = REGISTRY[name]
        t0 = time.time()
        if progress:
            print(f"[jaxmf] {name} ...", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(sys.stderr):  # library progress lines: stderr
            data, r = task.compute(quick, out, progress=progress)
        for fig_name, fig in task.plot(data).items():
            save(fig, out, fig_name)
        pyplot().close("all")
        write_json(out / f"{name}.json", {"metadata": meta, "result": data})
        rows += r
        timings[name] = time.time() - t0
        if progress:
            print(f"[jaxmf] {name} done in {timings[name]:.1f} s", file=sys.stderr, flush=True)
    report = out / "REPORT.md"
    text = _report(rows, timings, time.time() - t_all, quick)
    atomic_write(report, lambda f: f.write(text.encode()))
    return report


def _metadata(quick, extra):
    import jax

    meta = {
        "jaxmf_version": __version__,
        "jax_version": jax.__version__,
        "device": {
            "platform": jax.devices()[0].platform,
            "kind": jax.devices()[0].device_kind,
            "count": jax.device_count(),
        },
        "sizes": "quick" if quick else "full",
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return {**meta, **(extra or {})}


def _report(rows, timings, total, quick):
    import jax

    lines = [
        "# jaxmf reproduction report",
        "",
        f"jaxmf {__version__}, jax {jax.__version__}, device {jax.devices()[0].platform}, "
        f"{'--quick' if quick else 'full'} run, {total:.0f} s in total. Entropies in nats. "
        "Default ptilde family: goe (see docs/theory.md for the open points).",
        "",
        "Verdicts are computed from this run's numbers: agrees / differs (the paper "
        "gives a number; the tolerance is in the row), qualitative: holds / fails (the "
        "paper gives none).",
        "",
        *table(rows),
    ]
    lines += [
        "",
        "Time per figure group: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()),
        "",
    ]
    return "\n".join(lines)
