"""``jaxmf chain``: the mean field of the DRH chain."""

from __future__ import annotations

from ..meanfield import avalanches, mean_entropies, n_thermal, solve
from ..models import chain
from ._args import count, positive
from ._verb import (
    Verb,
    add_common,
    add_dist,
    add_file,
    default,
    finish,
    not_converged,
    out_file,
    start,
    yes,
)


def arguments(p):
    p.add_argument("--N", type=count, required=True, help="number of l-bits (>= 1)")
    p.add_argument(
        "--alpha",
        type=positive,
        required=True,
        help="decay ratio of the couplings, > 0 (alpha_c = 1/sqrt 2)",
    )
    p.add_argument(
        "--g10",
        type=positive,
        default=default(chain.drh_log_couplings, "g10"),
        help="g_{1,0}, the first bare coupling, > 0 (default: %(default)s)",
    )
    add_dist(p, solve)
    add_file(p, "the solution (eta_tot, n_thermal, log g_n, [S_n])")
    add_common(p)


def main(a, argv, state):
    out = start(a, argv, out_file(a))
    res = solve(chain.drh_log_couplings(a.N, a.alpha, a.g10), a.dist, log_input=True)
    r = {
        "model": "drh_chain",
        "N": a.N,
        "alpha": a.alpha,
        "g10": a.g10,
        "dist": a.dist,
        "eta_tot": float(res.eta_tot),
        "converged": bool(res.converged),
        "iterations": int(res.iterations),
        "avalanche": bool(avalanches(res)),
        "n_thermal": float(n_thermal(res, a.dist)),
        "log_g": res.log_g,
        "mean_entropy": mean_entropies(res, a.dist),
    }
    out.save(r)
    out.say(
        f"N = {a.N}, alpha = {a.alpha:g}, g10 = {a.g10:g} ({a.dist}): eta_tot = "
        f"{r['eta_tot']:.10g}, n_thermal = {r['n_thermal']:.6g}, avalanche: "
        f"{yes(r['avalanche'])}, converged: {yes(r['converged'])} "
        f"({r['iterations']} iterations)"
    )
    finish(out)
    not_converged(res)


VERB = Verb(
    "chain",
    "solve the DRH chain g_{n,0} = g10 alpha^(n-1)",
    "Solve the mean-field equations for the DRH chain of Sec. VI: eta_tot, the "
    "thermalized count n_thermal and whether the avalanche runs through.",
    arguments,
    main,
)
