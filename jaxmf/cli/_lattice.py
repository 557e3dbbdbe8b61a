"""``jaxmf lattice``: the mean field of one realization of a lattice model (the paper's
2D lattice by default; ``--model``)."""

from __future__ import annotations

import jax

from ..meanfield import avalanche_flag, n_thermal, solve
from ..models import QPPhase, RandomKey, lattice
from ._args import finite, nonnegative, radius
from ._verb import (
    Verb,
    add_common,
    add_dist,
    add_file,
    add_kind,
    add_model,
    default,
    finish,
    kind_args,
    model_at,
    not_converged,
    out_file,
    start,
    yes,
)


def arguments(p):
    p.add_argument(
        "--R",
        type=radius,
        required=True,
        help="lattice radius R >= 0 (N = 2R^2 + 2R + 1 sites on the 2D lattice)",
    )
    add_model(p)
    p.add_argument(
        "--W", type=nonnegative, required=True, help="potential strength W (finite, >= 0)"
    )
    p.add_argument("--theta0", type=finite, help="QP phase offset (needed for --kind qp)")
    add_kind(p, lattice.KINDS, default(lattice.bare_couplings, "kind"), "potential")
    p.add_argument(
        "--g0",
        type=nonnegative,
        default=default(lattice.bare_couplings, "g0"),
        help="grain coupling scale g0 (finite, >= 0; default: %(default)s)",
    )
    add_dist(p, solve)
    add_file(p, "eta_tot, n_thermal and the avalanche flag")
    add_common(p)


def main(a, argv, state):
    kind_args(a)
    out = start(a, argv, out_file(a))
    model = model_at(a, a.R)
    real = QPPhase(a.theta0) if a.kind == "qp" else RandomKey(jax.random.key(a.seed))
    g0 = model.couplings(a.W, a.g0, real)
    res = solve(g0, a.dist)
    N = int(g0.shape[-1])
    # every site is an l-bit (eq. 19 counts all N), also one whose coupling underflowed
    # to 0 at huge W, which solve would treat as absent
    underflowed = int((g0 == 0).sum()) if a.g0 > 0 else 0
    r = {
        "model": "lattice2d" if a.model == "square" else model.spec(),
        "R": a.R,
        "N": N,
        "W": a.W,
        "g0": a.g0,
        "kind": a.kind,
        "theta0": a.theta0,
        "seed": a.seed,
        "dist": a.dist,
        "eta_tot": float(res.eta_tot),
        "avalanche": bool(avalanche_flag(res.eta_tot, N)),
        "couplings_underflowed": underflowed,
        "converged": bool(res.converged),
        "iterations": int(res.iterations),
        "n_thermal": float(n_thermal(res, a.dist)),
    }
    out.save(r)
    which = f"theta0 = {a.theta0:g}" if a.kind == "qp" else f"seed {a.seed}"
    out.say(
        f"R = {a.R} (N = {r['N']}), W = {a.W:g}, g0 = {a.g0:g}, {a.kind} {which}: "
        f"eta_tot = {r['eta_tot']:.10g}, n_thermal = {r['n_thermal']:.6g}, avalanche: "
        f"{yes(r['avalanche'])}, converged: {yes(r['converged'])}"
    )
    if underflowed:
        out.say(
            f"{underflowed} of {N} bare couplings underflowed to 0 (float64); the "
            "avalanche flag counts all N sites"
        )
    finish(out)
    not_converged(res)


VERB = Verb(
    "lattice",
    "solve one lattice realization (the 2D lattice of Sec. VII; --model)",
    "Solve the mean field of one realization of a lattice model (by default the 2D "
    "lattice of Sec. VII; --model chain|cubic|package.module:function): a QP potential "
    "with phase --theta0, or an iid random one with --kind random --seed.",
    arguments,
    main,
)
