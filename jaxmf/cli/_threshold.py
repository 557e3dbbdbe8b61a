"""``jaxmf threshold``: the avalanche threshold W_th(theta0) of QP realizations of a
model (the paper's 2D lattice by default; ``--model``)."""

from __future__ import annotations

import numpy as np

from .._status import Status
from ..analysis import thresholds
from ._args import Failure, UsageError, finite, integer, nonnegative, positive, radius
from ._verb import (
    Verb,
    add_common,
    add_dist,
    add_file,
    add_model,
    default,
    finish,
    model_at,
    out_file,
    start,
)

_HINTS = {
    Status.AVALANCHE_AT_MAX: "; raise --W-max",
    Status.NO_AVALANCHE: "; lower --W-min or raise --g0",
    Status.NOT_CONVERGED: "",
}


def arguments(p):
    fn = thresholds.threshold_W
    p.add_argument("--R", type=radius, required=True, help="lattice radius R >= 0")
    add_model(p)
    p.add_argument(
        "--theta0", type=finite, nargs="+", required=True, help="QP phase offsets (finite)"
    )
    p.add_argument(
        "--g0",
        type=nonnegative,
        default=default(fn, "g0"),
        help="grain coupling scale g0 (finite, >= 0; default: %(default)s)",
    )
    p.add_argument(
        "--W-min",
        type=nonnegative,
        default=default(fn, "W_min"),
        help="bottom of the W scan (>= 0; default: %(default)s)",
    )
    p.add_argument(
        "--W-max",
        type=positive,
        default=default(fn, "W_max"),
        help="top of the W scan (> W-min; default: %(default)s)",
    )
    p.add_argument(
        "--n-scan",
        type=integer(2),
        default=default(fn, "n_scan"),
        help="scan points (>= 2; default: %(default)s)",
    )
    p.add_argument(
        "--rtol",
        type=positive,
        default=default(fn, "rtol"),
        help="relative width of the final bracket (> 0; default: %(default)s)",
    )
    add_dist(p, fn)
    add_file(p, "W_aval, W_fail, the fold and the status of each phase")
    add_common(p)


def main(a, argv, state):
    if not a.W_min < a.W_max:
        raise UsageError(f"--W-min must be < --W-max, got {a.W_min:g} and {a.W_max:g}")
    model = model_at(a, a.R)
    out = start(a, argv, out_file(a))
    r = thresholds.threshold_W(
        model,
        np.asarray(a.theta0, float),
        g0=a.g0,
        dist=a.dist,
        W_min=a.W_min,
        W_max=a.W_max,
        n_scan=a.n_scan,
        rtol=a.rtol,
    )
    phases, bad = [], []
    for i, th in enumerate(a.theta0):
        status = Status(int(r.status[i]))
        ok = status == Status.OK
        phases.append(
            {
                "theta0": th,
                "status": status.message,
                "status_code": int(status),
                **{
                    k: (float(getattr(r, k)[i]) if ok else None)
                    for k in ("W_aval", "W_fail", "W_fold", "W_fold_err", "eta_fail", "slope_fail")
                },
                "n_solves": int(r.n_solves[i]),
            }
        )
        if not ok:
            bad.append(status)
    out.save({"R": a.R, "g0": a.g0, "dist": a.dist, "phases": phases})
    for p in phases:
        if p["status_code"] == Status.OK:
            out.say(
                f"theta0 = {p['theta0']:.10g}: avalanche at W_aval = {p['W_aval']:.12g}, "
                f"none at W_fail = {p['W_fail']:.12g}; fold at W = {p['W_fold']:.14g} "
                f"+- {p['W_fold_err']:.1e} ({p['status']})"
            )
        else:
            out.say(f"theta0 = {p['theta0']:.10g}: no threshold: {p['status']}")
    finish(out)
    if bad:
        words = "; ".join(sorted({s.message + _HINTS[s] for s in bad}))
        raise Failure(f"no threshold for {len(bad)} of {len(phases)} phase(s): {words}")


VERB = Verb(
    "threshold",
    "avalanche threshold W_th(theta0) of QP lattices",
    "The W at which a QP lattice stops avalanching, per phase: a bracket [W_aval, "
    "W_fail] and the fold inside it. Exit status 1 if a phase has no threshold in the "
    "scan (the reason is printed).",
    arguments,
    main,
)
