"""``jaxmf rare``: rare avalanches of random lattices by subset simulation."""

from __future__ import annotations

import contextlib
import pathlib
import sys

import jax

from ..analysis import rare
from ._args import UsageError, count, integer, positive, radius, seed
from ._processes import add_process_arguments, initialize_from_args
from ._verb import (
    Verb,
    add_common,
    add_dist,
    add_model,
    default,
    finish,
    model_at,
    out_file,
    start,
    yes,
)

LEVEL_MULTIPLE = round(1.0 / default(rare.f_aval_tail, "p0"))
METHOD = "subset simulation on log g0_c (jaxmf.analysis.rare.f_aval_tail)"


def arguments(p):
    fn = rare.f_aval_tail
    p.add_argument("--R", type=radius, required=True, help="lattice radius R >= 0")
    add_model(p)
    p.add_argument(
        "--W", type=positive, nargs="+", required=True, help="disorder strengths (finite, > 0)"
    )
    p.add_argument(
        "--g0",
        type=positive,
        nargs="+",
        default=list(default(fn, "g0")),
        help="grain couplings (> 0), all read off the same runs (default: %(default)s)",
    )
    p.add_argument(
        "--n",
        type=integer(LEVEL_MULTIPLE, multiple=LEVEL_MULTIPLE),
        default=default(fn, "n"),
        help=f"samples per level and replica (a multiple of "
        f"{LEVEL_MULTIPLE}; default: %(default)s)",
    )
    p.add_argument(
        "--replicas",
        type=count,
        default=default(fn, "replicas"),
        help="independent runs; their spread is the error bar, and a row is "
        "'reliable' only with >= 3 (default: %(default)s)",
    )
    p.add_argument(
        "--thin",
        type=count,
        default=default(fn, "thin"),
        help="Markov steps per recorded state; cost grows with it, and 1 lets "
        "the populations coalesce below f ~ 1e-4 (default: %(default)s)",
    )
    p.add_argument(
        "--max-levels",
        type=integer(0),
        default=default(fn, "max_levels"),
        help="subset-simulation level limit (default: %(default)s)",
    )
    p.add_argument("--seed", type=seed, default=0, help="integer seed (default: %(default)s)")
    add_dist(p, fn)
    p.add_argument(
        "--out",
        metavar="FILE",
        help="JSON file of the rows and the run's metadata, rewritten "
        "(atomically) after every W point: an interrupted run keeps its "
        "finished points ('complete': false); required with several "
        "processes, which share FILE.parts/",
    )
    add_common(p)
    add_process_arguments(p)


def main(a, argv, state):
    where = initialize_from_args(a)
    if where.count > 1 and a.out is None:
        raise UsageError(
            "--out FILE is needed with several processes (they share "
            "FILE.parts/; process 0 writes FILE)"
        )
    out = start(a, argv, out_file(a) if where.index == 0 else None)
    if where.index:
        out.say = lambda line: None
    folder = None if where.count == 1 else pathlib.Path(f"{a.out}.parts")
    rows = []

    def note():
        if folder is not None:
            return (
                f"finished replicas are in {folder}; rerun the same command to resume"
                if folder.is_dir() and any(folder.iterdir())
                else "no replica had finished"
            )
        if out.file is None:
            return "nothing was saved (no --out)"
        if rows and out.file.exists():
            return f"{len(rows)} finished row(s) are in {out.file}"
        return "no W point had finished"

    state["note"] = note

    def on_row(row):
        rows.append(row._asdict())
        out.save({"complete": False, "method": METHOD, "rows": rows})
        out.say(
            f"R = {row.R}, W = {row.W:g}, g0 = {row.g0:g}: f_aval = {row.f:.4e} +- "
            f"{row.stderr:.1e} (floor {row.floor:.1e}, reliable: {yes(row.reliable)})"
        )

    model = model_at(a, a.R)
    with contextlib.redirect_stdout(sys.stderr):
        rare.f_aval_tail(
            model,
            a.W,
            key=jax.random.key(a.seed),
            g0=tuple(a.g0),
            n=a.n,
            replicas=a.replicas,
            thin=a.thin,
            max_levels=a.max_levels,
            dist=a.dist,
            progress=not a.quiet and where.index == 0,
            callback=on_row,
            folder=folder,
        )
    if where.index:
        return
    out.save({"complete": True, "method": METHOD, "rows": rows})
    finish(out)


VERB = Verb(
    "rare",
    "rare avalanches of random lattices by subset simulation",
    "f_aval(W, g0) of random lattices down to ~1e-12 by subset simulation, one row per "
    "(W, g0), with replica error bars and a reliability flag. Progress on stderr.",
    arguments,
    main,
)
