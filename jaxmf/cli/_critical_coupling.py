"""``jaxmf critical-coupling``: g_c(N) of the symmetric model."""

from __future__ import annotations

import numpy as np

from ..analysis import symmetric_fold
from ._args import large_count
from ._verb import Verb, add_common, add_dist, add_file, finish, out_file, start


def arguments(p):
    p.add_argument(
        "--N",
        type=large_count(2),
        nargs="+",
        required=True,
        help="numbers of l-bits (integers >= 2, also as 1e20)",
    )
    add_dist(p, symmetric_fold.critical_coupling)
    add_file(p, "N and g_c(N)")
    add_common(p)


def main(a, argv, state):
    out = start(a, argv, out_file(a))
    N = np.asarray(a.N, float)
    gc = np.asarray(symmetric_fold.critical_coupling(N, a.dist))
    scaled = gc * N * np.log(N)
    out.save({"dist": a.dist, "N": a.N, "g_c": gc, "g_c_N_log_N": scaled})
    for n, g, s in zip(a.N, gc, scaled):
        out.say(f"N = {n:.10g}: g_c = {g:.10e}, g_c N log N = {s:.8f}")
    finish(out)


VERB = Verb(
    "critical-coupling",
    "g_c(N) of the symmetric model (largest localized g0)",
    "The critical coupling g_c(N) of N equal couplings: the largest bare coupling with a "
    "localized mean-field solution.",
    arguments,
    main,
)
