"""The `jaxmf` command.

    jaxmf reproduce [--quick] [--out DIR] [--only fig1d fig3 ...]
    jaxmf eta --g 0.1 1 10 [--dist goe]
    jaxmf chain --N 50 --alpha 0.637 [--g10 0.5] [--out chain.json]
    jaxmf lattice --R 15 --W 70 --theta0 2.954     (or --kind random --seed 1)
    jaxmf sweep --out runs/qp --R 10 15 --W 60 80 100 120 [--kind random] [--samples 64]
    jaxmf ed --N 8 --alpha 0.6 [--samples 10]
    jaxmf threshold --R 10 --theta0 0.3 2.954
    jaxmf rare --R 10 --W 200 300 [--g0 1 0.5] [--n 400 --replicas 3] [--out rare.json]
    jaxmf critical-coupling --N 100 1000 10000
    jaxmf eta-table --dist goe          (rebuild a shipped table)
    jaxmf goe-table [--samples N --seed S]

Bad arguments give a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ._version import __version__
from ._checks import DISTRIBUTIONS


def _positive_int(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {s}")
    return v


def _nonneg_float(s):
    v = float(s)
    if not np.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s}")
    return v


def _positive_float(s):
    v = float(s)
    if not np.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {s}")
    return v


def _dist(p):
    p.add_argument("--dist", choices=DISTRIBUTIONS, default="goe",
                   help="resonance statistics ptilde of the bath (default: goe)")


def _cmd_reproduce(a):
    from .paper import run

    report = run(a.out, quick=a.quick, only=a.only)
    print(f"figures and {report.name} written to {report.parent}")


def _cmd_eta(a):
    import jaxmf

    g = np.asarray(a.g, float)
    out = {"g": g.tolist(), "dist": a.dist,
           "eta": np.asarray(jaxmf.eta(g, a.dist)).tolist(),
           "mean_entropy": np.asarray(jaxmf.mean_entropy(g, a.dist)).tolist(),
           "czz": np.asarray(jaxmf.czz(g, a.dist)).tolist()}
    print(json.dumps(out))


def _cmd_chain(a):
    import jaxmf
    from .meanfield import avalanches, mean_entropies, n_thermal
    from .models import chain

    res = jaxmf.solve(chain.drh_log_couplings(a.N, a.alpha, a.g10), a.dist, log_input=True)
    out = {"model": "drh_chain", "N": a.N, "alpha": a.alpha, "g10": a.g10, "dist": a.dist,
           "jaxmf": __version__, "eta_tot": float(res.eta_tot),
           "converged": bool(res.converged), "iterations": int(res.iterations),
           "avalanche": bool(avalanches(res)), "n_thermal": float(n_thermal(res, a.dist)),
           "log_g": np.asarray(res.log_g).tolist(),
           "mean_entropy": np.asarray(mean_entropies(res, a.dist)).tolist()}
    text = json.dumps(out)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text)
        print(f"eta_tot = {out['eta_tot']:.6g}, n_thermal = {out['n_thermal']:.3f}, "
              f"avalanche = {out['avalanche']}; written to {a.out}")
    else:
        print(text)


def _cmd_gc(a):
    from .models import symmetric

    N = np.asarray(a.N, float)
    if np.any(N < 2):
        raise ValueError("--N values must be >= 2")
    gc = np.asarray(symmetric.critical_coupling(N, a.dist))
    for n, g in zip(N, gc):
        print(f"N = {int(n):>8d}  g_c = {g:.6e}  g_c N log N = {g * n * np.log(n):.5f}")


def _cmd_lattice(a):
    import jax

    import jaxmf
    from .meanfield import avalanches, n_thermal
    from .models import lattice

    if a.kind == "qp" and a.theta0 is None:
        raise ValueError("--kind qp needs --theta0")
    src = dict(theta0=a.theta0) if a.kind == "qp" else dict(key=jax.random.key(a.seed))
    g0 = lattice.bare_couplings(a.R, a.W, g0=a.g0, kind=a.kind, **src)
    res = jaxmf.solve(g0, a.dist)
    print(json.dumps({"model": "lattice2d", "R": a.R, "W": a.W, "g0": a.g0, "kind": a.kind,
                      "theta0": a.theta0, "seed": a.seed if a.kind == "random" else None,
                      "dist": a.dist, "N": int(g0.shape[-1]), "eta_tot": float(res.eta_tot),
                      "avalanche": bool(avalanches(res)), "converged": bool(res.converged),
                      "n_thermal": float(n_thermal(res, a.dist))}))


def _cmd_sweep(a):
    from .analysis import ensemble

    extra = (dict(theta0=ensemble.theta_grid(a.samples)) if a.kind == "qp"
             else dict(n_draws=a.samples, seed=a.seed))
    res = ensemble.sweep(a.out, kind=a.kind, R=a.R, W=a.W, g0=a.g0, dist=a.dist, **extra)
    f = ensemble.ensemble_average(res).f_aval
    print(f"f_aval ({a.kind}, g0 = {a.g0}, {a.samples} samples), rows W, columns R = {[int(r) for r in res.R]}")
    for W, row in zip(res.W, f):
        print(f"W = {W:8.3f}  " + "  ".join(f"{x:.4f}" for x in row))
    print(f"results in {a.out} (rerun the same command to resume)")


def _cmd_ed(a):
    import jax

    from .models import ed

    out = ed.drh_ensemble(a.N, a.alpha, key=jax.random.key(a.seed), n_samples=a.samples)
    st = ed.entropy_statistics(out.entropy)
    print(f"N = {a.N}, alpha = {a.alpha}, {a.samples} samples: [S_end] = "
          f"{float(st.mean_all):.5f} +- {float(st.stderr_all):.5f} nats (all states), "
          f"{float(st.mean_middle):.5f} +- {float(st.stderr_middle):.5f} (middle third)")


def _cmd_threshold(a):
    from ._status import Status
    from .analysis import thresholds

    r = thresholds.threshold_W(a.R, np.asarray(a.theta0, float), g0=a.g0, dist=a.dist,
                               W_max=a.W_max)
    for i, th in enumerate(a.theta0):
        print(f"theta0 = {th:.6f}: avalanche at W = {float(np.ravel(r.W_aval)[i]):.6f}, "
              f"failed at W = {float(np.ravel(r.W_fail)[i]):.6f}, "
              f"fold W = {float(np.ravel(r.W_fold)[i]):.8f} +- {float(np.ravel(r.W_fold_err)[i]):.1e}"
              f" ({Status(int(np.ravel(r.status)[i])).message})")


def _cmd_rare(a):
    import jax

    from .analysis import rare

    rows = rare.f_aval_tail(a.R, a.W, key=jax.random.key(a.seed), g0=tuple(a.g0), n=a.n,
                            replicas=a.replicas, thin=a.thin, dist=a.dist, progress=True)
    for r in rows:
        print(f"R = {r.R}, W = {r.W:g}, g0 = {r.g0:g}: f_aval = {r.f:.3e} "
              f"+- {r.stderr:.1e} (floor {r.floor:.1e})")
    if a.out:
        params = {"R": a.R, "W": a.W, "g0": a.g0, "n": a.n, "replicas": a.replicas,
                  "thin": a.thin, "seed": a.seed, "dist": a.dist, "method": "subset simulation on log g0_c",
                  "jaxmf_version": __version__}
        with open(a.out, "w") as f:
            json.dump({"parameters": params, "rows": [r._asdict() for r in rows]}, f, indent=1)
        print(f"written to {a.out}")


def _cmd_eta_table(a):
    from .tables.eta import build_eta_table

    print(build_eta_table(a.dist, path=a.path))


def _cmd_goe_table(a):
    from .tables import goe as goe_table

    print(goe_table.build(a.samples, a.seed, path=a.path))


# every verb: (name, arguments, command, help)
def _args_reproduce(p):
    p.add_argument("--quick", action="store_true",
                   help="smaller ensembles: a few minutes on a 2-core CPU")
    p.add_argument("--out", default="jaxmf-figures", help="output folder (default: %(default)s)")
    p.add_argument("--only", nargs="+", metavar="FIG",
                   help="only these figure groups (fig1d fig2 fig3 fig4 fig5 ...)")


def _args_eta(p):
    p.add_argument("--g", type=_nonneg_float, nargs="+", required=True, help="couplings g >= 0")
    _dist(p)


def _args_chain(p):
    p.add_argument("--N", type=_positive_int, required=True, help="number of l-bits")
    p.add_argument("--alpha", type=_positive_float, required=True,
                   help="decay ratio alpha > 0 (alpha_c = 1/sqrt 2)")
    p.add_argument("--g10", type=_positive_float, default=0.5, help="g_{1,0} (default 0.5)")
    p.add_argument("--out", help="write the result (JSON) here")
    _dist(p)


def _args_critical_coupling(p):
    p.add_argument("--N", type=_positive_int, nargs="+", required=True, help="numbers of l-bits >= 2")
    _dist(p)


def _args_lattice(p):
    p.add_argument("--R", type=int, required=True, help="lattice radius R >= 0")
    p.add_argument("--W", type=_nonneg_float, required=True, help="potential strength W >= 0")
    p.add_argument("--kind", choices=("qp", "random"), default="qp")
    p.add_argument("--theta0", type=float, help="QP phase offset (kind qp)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed (kind random)")
    p.add_argument("--g0", type=_nonneg_float, default=1.0, help="grain coupling (default 1)")
    _dist(p)


def _args_sweep(p):
    p.add_argument("--out", required=True, help="result folder (rerun to resume)")
    p.add_argument("--kind", choices=("qp", "random"), default="qp")
    p.add_argument("--R", type=int, nargs="+", required=True)
    p.add_argument("--W", type=_nonneg_float, nargs="+", required=True)
    p.add_argument("--samples", type=_positive_int, default=64,
                    help="theta0 grid points (qp) or random draws (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--g0", type=_nonneg_float, default=1.0)
    _dist(p)


def _args_ed(p):
    p.add_argument("--N", type=_positive_int, required=True, help="number of spins (<= 10 on CPU)")
    p.add_argument("--alpha", type=_nonneg_float, required=True)
    p.add_argument("--samples", type=_positive_int, default=10)
    p.add_argument("--seed", type=int, default=0)


def _args_threshold(p):
    p.add_argument("--R", type=int, required=True)
    p.add_argument("--theta0", type=float, nargs="+", required=True)
    p.add_argument("--g0", type=_nonneg_float, default=1.0)
    p.add_argument("--W-max", type=_positive_float, default=400.0)
    _dist(p)


def _args_rare(p):
    p.add_argument("--R", type=_positive_int, required=True, help="lattice radius")
    p.add_argument("--W", type=_positive_float, nargs="+", required=True,
                    help="disorder strengths")
    p.add_argument("--g0", type=_positive_float, nargs="+", default=[1.0, 0.5],
                    help="grain couplings, all from the same runs (default: 1 0.5)")
    p.add_argument("--n", type=_positive_int, default=400,
                    help="samples per level and replica (multiple of 10; default 400)")
    p.add_argument("--replicas", type=_positive_int, default=3,
                    help="independent runs; their spread is the error bar (default 3)")
    p.add_argument("--thin", type=_positive_int, default=5,
                    help="Markov steps per recorded state; cost grows with it, and 1 lets "
                         "the populations coalesce below f ~ 1e-4 (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON file for the rows and their parameters")
    _dist(p)


def _args_eta_table(p):
    _dist(p)
    p.add_argument("--path", help="output .npz (default: the package's data folder)")


def _args_goe_table(p):
    p.add_argument("--samples", type=_positive_int, default=10_000_000)
    p.add_argument("--seed", type=int, default=20221104)
    p.add_argument("--path", help="output .npz (default: the package's data folder)")


VERBS = [
    ("reproduce", _args_reproduce, _cmd_reproduce,
     "regenerate every figure of the paper and REPORT.md"),
    ("eta", _args_eta, _cmd_eta,
     "eta(g), [S](g) and Czz(g) for given reduced couplings"),
    ("chain", _args_chain, _cmd_chain,
     "solve the DRH chain g_{n,0} = g10 alpha^(n-1)"),
    ("critical-coupling", _args_critical_coupling, _cmd_gc,
     "g_c(N) of the symmetric model (largest localized g0)"),
    ("lattice", _args_lattice, _cmd_lattice,
     "solve one 2D lattice realization (Sec. VII)"),
    ("sweep", _args_sweep, _cmd_sweep,
     "ensemble sweep over W x R (resumable; f_aval table)"),
    ("ed", _args_ed, _cmd_ed,
     "exact diagonalization of the DRH central-grain chain"),
    ("threshold", _args_threshold, _cmd_threshold,
     "avalanche threshold W_th(theta0) of QP lattices"),
    ("rare", _args_rare, _cmd_rare,
     "rare avalanches of random lattices: f_aval(W, g0) down " "to ~1e-12 by subset simulation"),
    ("eta-table", _args_eta_table, _cmd_eta_table,
     "rebuild the eta table by 2D quadrature (~2 min)"),
    ("goe-table", _args_goe_table, _cmd_goe_table,
     "rebuild the GOE ptilde table by Monte Carlo"),
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jaxmf",
        description="Entanglement mean-field theory of thermalizing avalanches "
                    "(Crowley & Chandran, PRB 106, 184208). Entropies in nats.")
    p.add_argument("--version", action="version", version=f"jaxmf {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, add_arguments, command, help_text in VERBS:
        verb = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(verb)
        verb.set_defaults(fn=command)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.fn(args)
    except ValueError as err:
        print(f"jaxmf {args.cmd}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
