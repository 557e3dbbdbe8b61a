"""``jaxmf sweep``: an ensemble sweep of a model family over W x R, resumable."""

from __future__ import annotations

from ..analysis import ensemble
from ..models import lattice
from ._args import count, nonnegative, radius
from ._output import SUMMARY, check_folder
from ._processes import add_process_arguments, initialize_from_args
from ._verb import (
    Verb,
    add_common,
    add_dist,
    add_kind,
    add_model,
    default,
    kind_args,
    model_family,
    start,
    unique,
)


def arguments(p):
    p.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="folder of the sweep (manifest, one file per finished chunk, "
        "summary.json); rerun the same command to resume it",
    )
    p.add_argument(
        "--R",
        type=radius,
        nargs="+",
        required=True,
        help="lattice radii (integers >= 0, no repeats)",
    )
    add_model(p)
    p.add_argument(
        "--W",
        type=nonnegative,
        nargs="+",
        required=True,
        help="potential strengths (finite, >= 0, no repeats)",
    )
    add_kind(p, lattice.KINDS, "qp", "draws")
    p.add_argument(
        "--samples",
        type=count,
        default=64,
        help="theta0 grid points (qp) or random draws per (W, R) (default: %(default)s)",
    )
    p.add_argument(
        "--g0",
        type=nonnegative,
        default=default(ensemble.sweep, "g0"),
        help="grain coupling scale g0 (finite, >= 0; default: %(default)s)",
    )
    add_dist(p, ensemble.sweep)
    add_common(p)
    add_process_arguments(p)


def _finished(folder):
    chunks = [p for p in (folder / "chunks").glob("*.npz") if not p.name.startswith(".")]
    if not chunks:
        return "no chunk had finished"
    return f"{len(chunks)} finished chunk(s) are in {folder}; rerun the same command to resume"


def main(a, argv, state):
    kind_args(a)
    unique("--R", a.R)
    unique("--W", a.W)
    folder = check_folder(a.out)
    where = initialize_from_args(a)  # before anything asks JAX for devices
    out = start(a, argv)
    extra = {"seed": a.seed} if a.kind == "random" else {}
    state["note"] = lambda: _finished(folder)
    family = model_family(a)
    res = ensemble.sweep(
        folder,
        model=family,
        kind=a.kind,
        R=a.R,
        W=a.W,
        g0=a.g0,
        dist=a.dist,
        n_draws=a.samples,
        progress=not a.quiet and where.index == 0,
        **extra,
    )
    if where.index:  # process 0 writes the summary and prints
        return
    avg = ensemble.ensemble_average(res)
    out.file = folder / SUMMARY
    out.save(
        {
            "W": res.W,
            "R": res.R,
            "N": res.N,
            "f_aval": avg.f_aval,
            "f_aval_err": avg.f_aval_err,
            "eta_mean": avg.eta_mean,
            "eta_sem": avg.eta_sem,
            "n": avg.n,
            "n_unconverged": avg.n_unconverged,
            "complete": bool(res.complete.all()),
        }
    )
    out.say(
        f"f_aval ({a.kind}, g0 = {a.g0:g}, {a.samples} samples), rows W, "
        f"columns R = {[int(r) for r in res.R]}"
    )
    for W, row in zip(res.W, avg.f_aval):
        out.say(f"W = {W:10.4f}  " + "  ".join(f"{x:.4f}" for x in row))
    if avg.n_unconverged.sum():
        out.say(f"{int(avg.n_unconverged.sum())} realizations did not converge (left out)")
    out.say(f"chunks and {SUMMARY} in {folder}")
    out.finish()


VERB = Verb(
    "sweep",
    "ensemble sweep over W x R (resumable; f_aval table)",
    "Mean field of every realization on a W x R grid (theta0 grid or random draws), "
    "written chunk by chunk to the folder --out; rerunning resumes. Prints f_aval.",
    arguments,
    main,
)
