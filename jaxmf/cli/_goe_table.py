"""``jaxmf goe-table``: rebuild the GOE ptilde table by Monte Carlo."""

from __future__ import annotations

from ..tables import goe
from ._args import count, seed
from ._output import check_file
from ._verb import Verb, add_common, default, start


def arguments(p):
    p.add_argument(
        "--samples",
        type=count,
        default=default(goe.build, "n_samples"),
        help="Monte Carlo samples (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=seed,
        default=default(goe.build, "seed"),
        help="integer seed (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="output .npz (default: ptilde_goe.npz in the current folder; copy "
        "it to jaxmf/data/ to replace the shipped table)",
    )
    add_common(p)


def main(a, argv, state):
    a.out = "ptilde_goe.npz" if a.out is None else a.out
    path = check_file(a.out)
    out = start(a, argv)
    goe.build(a.samples, a.seed, path=str(path), progress=not a.quiet, metadata=out.meta)
    out.save({"table": str(path), "samples": a.samples, "seed": a.seed})
    out.say(
        f"GOE ptilde table written to {path}; it replaces the shipped one when copied "
        "to jaxmf/data/ptilde_goe.npz"
    )
    out.finish()


VERB = Verb(
    "goe-table",
    "rebuild the GOE ptilde table by Monte Carlo",
    "Recompute the table of the GOE resonance law ptilde by Monte Carlo.",
    arguments,
    main,
)
