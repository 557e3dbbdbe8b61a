"""``jaxmf eta``: eta(g), [S](g) and Czz(g)."""

from __future__ import annotations

import numpy as np

from .. import enhancement
from ._args import nonnegative
from ._verb import Verb, add_common, add_dist, add_file, finish, out_file, start


def arguments(p):
    p.add_argument(
        "--g",
        type=nonnegative,
        nargs="+",
        required=True,
        metavar="G",
        help="reduced couplings g (finite, >= 0)",
    )
    add_dist(p, enhancement.eta)
    add_file(p, "g, eta, [S] and Czz")
    add_common(p)


def main(a, argv, state):
    out = start(a, argv, out_file(a))
    g = np.asarray(a.g, float)
    eta, s, czz = (
        np.asarray(getattr(enhancement, f)(g, a.dist)) for f in ("eta", "mean_entropy", "czz")
    )
    out.save({"dist": a.dist, "g": g, "eta": eta, "mean_entropy": s, "czz": czz})
    for i, gi in enumerate(g):
        out.say(f"g = {gi:.10g}: eta = {eta[i]:.10g}, [S] = {s[i]:.10g} nats, Czz = {czz[i]:.10g}")
    finish(out)


VERB = Verb(
    "eta",
    "eta(g), [S](g) and Czz(g) for given reduced couplings",
    "The single-l-bit functions of the reduced coupling g: the entropic enhancement "
    "eta (A27), the mean entropy [S] (nats) and the memory Czz (A14).",
    arguments,
    main,
)
