"""``jaxmf eta-table``: rebuild a table of eta(g) by quadrature, resumable."""

from __future__ import annotations

from ..resonance import DISTRIBUTIONS
from ..tables.eta import build_eta_table, partial_path
from ._args import count
from ._output import check_file
from ._verb import Verb, add_common, default, start


def arguments(p):
    p.add_argument(
        "--dist",
        choices=DISTRIBUTIONS,
        default="goe",
        help="resonance statistics ptilde (default: %(default)s)",
    )
    p.add_argument(
        "--refine",
        type=count,
        default=default(build_eta_table, "refine"),
        help="quadrature refinement (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="output .npz (default: eta_DIST.npz in the current folder; copy it "
        "to jaxmf/data/ to replace the shipped table). Finished nodes are "
        "kept in FILE's .partial.npz; rerunning resumes from it",
    )
    add_common(p)


def main(a, argv, state):
    a.out = f"eta_{a.dist}.npz" if a.out is None else a.out
    path = check_file(a.out)
    out = start(a, argv)
    part = partial_path(path)
    state["note"] = lambda: (
        f"finished nodes are in {part}; rerun the same command to resume"
        if part.exists()
        else "no chunk of nodes had finished"
    )
    build_eta_table(
        a.dist, path=str(path), refine=a.refine, progress=not a.quiet, metadata=out.meta
    )
    out.save({"table": str(path), "dist": a.dist, "refine": a.refine})
    out.say(
        f"eta table ({a.dist}) written to {path}; it replaces the shipped one when "
        f"copied to jaxmf/data/eta_{a.dist}.npz"
    )
    out.finish()


VERB = Verb(
    "eta-table",
    "rebuild an eta table by 2D quadrature (~2 min)",
    "Recompute the table of eta(g) by 2D quadrature (resumable: finished chunks are kept "
    "in a partial file next to --out).",
    arguments,
    main,
)
