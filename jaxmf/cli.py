"""The `jaxmf` command.

    jaxmf reproduce [--quick] [--only FIG ...] [--out DIR]
    jaxmf eta --g G [G ...] [--dist goe|poisson] [--out FILE]
    jaxmf chain --N N --alpha A [--g10 G] [--out FILE]
    jaxmf critical-coupling --N N [N ...] [--out FILE]
    jaxmf lattice --R R --W W --theta0 T [--g0 G] [--out FILE]
    jaxmf lattice --R R --W W --kind random [--seed S] [--out FILE]
    jaxmf sweep --out DIR --R R [R ...] --W W [W ...] [--kind random --seed S] [--samples M]
    jaxmf ed --N N --alpha A [--samples M] [--seed S] [--max-memory GIB] [--out FILE]
    jaxmf threshold --R R --theta0 T [T ...] [--W-min W] [--W-max W] [--out FILE]
    jaxmf rare --R R --W W [W ...] [--g0 G ...] [--n N] [--replicas M] [--out FILE]
    jaxmf eta-table [--dist goe|poisson] [--out FILE.npz]
    jaxmf goe-table [--samples N] [--seed S] [--out FILE.npz]

One grammar for every verb:

* ``--out`` is where the result goes: a JSON file (eta, chain, critical-coupling,
  lattice, ed, threshold, rare), a ``.npz`` table (eta-table, goe-table; default a file
  in the current folder), or a folder (sweep, reproduce; they add DIR/summary.json).
  Every file holds one metadata block (versions, device, command, parameters, seed,
  time) next to the result; see :mod:`jaxmf._cli_output`.
* A human summary on stdout, one result per line (``--json``: the JSON document
  instead); progress on stderr, silenced by ``--quiet``.
* Arguments and the output location are checked before anything is computed. Long
  jobs (rare, sweep, eta-table, reproduce) write what they finish as they go, each
  file atomically, so an interrupted run keeps its finished part (and sweep and
  eta-table resume from it).
* Errors are one line on stderr, ``jaxmf VERB: error: ...``. Exit status: 0 success,
  1 failure (the run did not reach a result, e.g. no threshold in the scan), 2 bad
  arguments, 130 / 143 interrupted (Ctrl-C / SIGTERM).
* Defaults are those of the library functions the verbs call.
"""

from __future__ import annotations

import contextlib
import signal
import sys

import numpy as np

from ._cli_args import Failure, Parser, UsageError
from ._cli_output import SUMMARY, Output, check_file, check_folder
from ._cli_verbs import VERBS, _default
from ._status import Status
from ._version import __version__

__all__ = ["build_parser", "main"]


def _start(a, argv, file=None) -> Output:
    """The run's output; its metadata is taken now (the time is the start time)."""
    return Output(a.verb, argv, a, file)


def _file(a):
    """The checked --out file of a JSON verb, or None without --out."""
    return None if a.out is None else check_file(a.out)


def _finish(out):
    if out.file is not None:
        out.say(f"written to {out.file}")
    out.finish()


def _yes(flag) -> str:
    return "yes" if flag else "no"


# --------------------------------------------------------------------------- verbs
def _cmd_reproduce(a, argv, state):
    from .paper import REGISTRY, run

    a.out = _default(run, "out") if a.out is None else a.out
    folder = check_folder(a.out)
    unknown = sorted(set(a.only or ()) - set(REGISTRY))
    if unknown:
        raise UsageError(f"--only: unknown figure group(s) {unknown}; choose from "
                         f"{list(REGISTRY)}")
    out = _start(a, argv)
    state["note"] = f"finished figure groups are in {folder}"
    report = run(folder, quick=a.quick, only=a.only, progress=not a.quiet,
                 metadata={"command": ["jaxmf", *argv]})
    out.file = folder / SUMMARY
    out.save({"report": report.name, "groups": [n for n in REGISTRY if not a.only or n in a.only],
              "files": sorted(p.name for p in folder.iterdir() if p.is_file())})
    out.say(f"figures, data and {report.name} written to {folder}")
    out.finish()


def _cmd_eta(a, argv, state):
    out = _start(a, argv, _file(a))
    from . import enhancement

    g = np.asarray(a.g, float)
    eta, s, czz = (np.asarray(getattr(enhancement, f)(g, a.dist))
                   for f in ("eta", "mean_entropy", "czz"))
    out.save({"dist": a.dist, "g": g, "eta": eta, "mean_entropy": s, "czz": czz})
    for i, gi in enumerate(g):
        out.say(f"g = {gi:.10g}: eta = {eta[i]:.10g}, [S] = {s[i]:.10g} nats, "
                f"Czz = {czz[i]:.10g}")
    _finish(out)


def _not_converged(res):
    if not bool(res.converged):
        raise Failure(f"{Status.NOT_CONVERGED.message} after {int(res.iterations)} "
                      "iterations (the numbers above are not a solution)")


def _cmd_chain(a, argv, state):
    out = _start(a, argv, _file(a))
    from .meanfield import avalanches, mean_entropies, n_thermal, solve
    from .models import chain

    res = solve(chain.drh_log_couplings(a.N, a.alpha, a.g10), a.dist, log_input=True)
    r = {"model": "drh_chain", "N": a.N, "alpha": a.alpha, "g10": a.g10, "dist": a.dist,
         "eta_tot": float(res.eta_tot), "converged": bool(res.converged),
         "iterations": int(res.iterations), "avalanche": bool(avalanches(res)),
         "n_thermal": float(n_thermal(res, a.dist)), "log_g": res.log_g,
         "mean_entropy": mean_entropies(res, a.dist)}
    out.save(r)
    out.say(f"N = {a.N}, alpha = {a.alpha:g}, g10 = {a.g10:g} ({a.dist}): eta_tot = "
            f"{r['eta_tot']:.10g}, n_thermal = {r['n_thermal']:.6g}, avalanche: "
            f"{_yes(r['avalanche'])}, converged: {_yes(r['converged'])} "
            f"({r['iterations']} iterations)")
    _finish(out)
    _not_converged(res)


def _cmd_critical_coupling(a, argv, state):
    out = _start(a, argv, _file(a))
    from .models import symmetric

    N = np.asarray(a.N, float)
    gc = np.asarray(symmetric.critical_coupling(N, a.dist))
    out.save({"dist": a.dist, "N": a.N, "g_c": gc, "g_c_N_log_N": gc * N * np.log(N)})
    for n, g in zip(a.N, gc):
        out.say(f"N = {n}: g_c = {g:.10e}, g_c N log N = {g * n * np.log(n):.8f}")
    _finish(out)


def _kind_args(a):
    """QP needs --theta0 and takes no --seed; random takes --seed (default 0)."""
    theta = getattr(a, "theta0", None)
    if a.kind == "qp":
        if hasattr(a, "theta0") and theta is None:
            raise UsageError("--kind qp needs --theta0 (the QP phase offset)")
        if a.seed is not None:
            raise UsageError("--seed is for --kind random; QP potentials are set by --theta0")
    else:
        if theta is not None:
            raise UsageError("--theta0 is for --kind qp; random potentials are set by --seed")
        a.seed = 0 if a.seed is None else a.seed


def _cmd_lattice(a, argv, state):
    _kind_args(a)
    out = _start(a, argv, _file(a))
    import jax

    from .meanfield import avalanches, n_thermal, solve
    from .models import lattice

    src = {"theta0": a.theta0} if a.kind == "qp" else {"key": jax.random.key(a.seed)}
    g0 = lattice.bare_couplings(a.R, a.W, g0=a.g0, kind=a.kind, **src)
    res = solve(g0, a.dist)
    r = {"model": "lattice2d", "R": a.R, "N": int(g0.shape[-1]), "W": a.W, "g0": a.g0,
         "kind": a.kind, "theta0": a.theta0, "seed": a.seed, "dist": a.dist,
         "eta_tot": float(res.eta_tot), "avalanche": bool(avalanches(res)),
         "converged": bool(res.converged), "iterations": int(res.iterations),
         "n_thermal": float(n_thermal(res, a.dist))}
    out.save(r)
    which = f"theta0 = {a.theta0:g}" if a.kind == "qp" else f"seed {a.seed}"
    out.say(f"R = {a.R} (N = {r['N']}), W = {a.W:g}, g0 = {a.g0:g}, {a.kind} {which}: "
            f"eta_tot = {r['eta_tot']:.10g}, n_thermal = {r['n_thermal']:.6g}, avalanche: "
            f"{_yes(r['avalanche'])}, converged: {_yes(r['converged'])}")
    _finish(out)
    _not_converged(res)


def _unique(flag, values):
    if len(set(values)) != len(values):
        raise UsageError(f"{flag} must not repeat a value, got {values}")


def _cmd_sweep(a, argv, state):
    _kind_args(a)
    _unique("--R", a.R)
    _unique("--W", a.W)
    folder = check_folder(a.out)
    from .analysis import distributed, ensemble

    where = distributed.initialize_from_args(a)  # before anything asks JAX for devices
    out = _start(a, argv)
    extra = {"seed": a.seed} if a.kind == "random" else {}
    state["note"] = (f"finished chunks are in {folder}; rerun the same command to resume")
    res = ensemble.sweep(folder, kind=a.kind, R=a.R, W=a.W, g0=a.g0, dist=a.dist,
                         n_draws=a.samples, progress=not a.quiet and where.index == 0,
                         **extra)
    if where.index:  # process 0 writes the summary and prints
        return
    avg = ensemble.ensemble_average(res)
    out.file = folder / SUMMARY
    out.save({"W": res.W, "R": res.R, "N": res.N, "f_aval": avg.f_aval,
              "f_aval_err": avg.f_aval_err, "eta_mean": avg.eta_mean, "eta_sem": avg.eta_sem,
              "n": avg.n, "n_unconverged": avg.n_unconverged,
              "complete": bool(res.complete.all())})
    out.say(f"f_aval ({a.kind}, g0 = {a.g0:g}, {a.samples} samples), rows W, "
            f"columns R = {[int(r) for r in res.R]}")
    for W, row in zip(res.W, avg.f_aval):
        out.say(f"W = {W:10.4f}  " + "  ".join(f"{x:.4f}" for x in row))
    if avg.n_unconverged.sum():
        out.say(f"{int(avg.n_unconverged.sum())} realizations did not converge (left out)")
    out.say(f"chunks and {SUMMARY} in {folder}")
    out.finish()


def _cmd_ed(a, argv, state):
    from .models import ed

    d_g = ed.DEFAULTS["d_g"]
    limit = a.max_memory * 2**30
    if ed.dense_bytes(a.N, d_g) > limit:
        fits = max([n for n in range(1, a.N) if ed.dense_bytes(n, d_g) <= limit], default=0)
        raise UsageError(
            f"--N {a.N}: exact diagonalization needs about {ed.dense_bytes(a.N, d_g) / 2**30:.3g}"
            f" GiB (dimension D = {d_g} x 2^{a.N} = {d_g * 2**a.N}, ~48 D^2 bytes per dense "
            f"eigh), more than the limit --max-memory {a.max_memory:g} GiB; "
            + (f"--N <= {fits} fits" if fits else "raise --max-memory"))
    out = _start(a, argv, _file(a))
    import jax

    res = ed.drh_ensemble(a.N, a.alpha, key=jax.random.key(a.seed), n_samples=a.samples,
                          memory_bytes=limit, J1=a.J1)
    st = ed.entropy_statistics(res.entropy)
    r = {"N": a.N, "alpha": a.alpha, "J1": a.J1, "d_g": d_g, "D": d_g * 2**a.N,
         "samples": a.samples, "mean_all": st.mean_all, "stderr_all": st.stderr_all,
         "mean_middle": st.mean_middle, "stderr_middle": st.stderr_middle,
         "per_sample_all": st.per_sample_all, "per_sample_middle": st.per_sample_middle,
         "memory": res.memory}
    out.save(r)
    out.say(f"N = {a.N}, alpha = {a.alpha:g}, {a.samples} samples: [S_end] = "
            f"{float(st.mean_all):.6f} +- {float(st.stderr_all):.6f} nats (all states), "
            f"{float(st.mean_middle):.6f} +- {float(st.stderr_middle):.6f} (middle third)")
    _finish(out)


_HINTS = {Status.AVALANCHE_AT_MAX: "; raise --W-max",
          Status.NO_AVALANCHE: "; lower --W-min or raise --g0",
          Status.NOT_CONVERGED: ""}


def _cmd_threshold(a, argv, state):
    if not a.W_min < a.W_max:
        raise UsageError(f"--W-min must be < --W-max, got {a.W_min:g} and {a.W_max:g}")
    out = _start(a, argv, _file(a))
    from .analysis import thresholds

    r = thresholds.threshold_W(a.R, np.asarray(a.theta0, float), g0=a.g0, dist=a.dist,
                               W_min=a.W_min, W_max=a.W_max, n_scan=a.n_scan, rtol=a.rtol)
    phases, bad = [], []
    for i, th in enumerate(a.theta0):
        status = Status(int(r.status[i]))
        ok = status == Status.OK
        phases.append({"theta0": th, "status": status.message, "status_code": int(status),
                       **{k: (float(getattr(r, k)[i]) if ok else None) for k in (
                           "W_aval", "W_fail", "W_fold", "W_fold_err", "eta_fail",
                           "slope_fail")}, "n_solves": int(r.n_solves[i])})
        if not ok:
            bad.append(status)
    out.save({"R": a.R, "g0": a.g0, "dist": a.dist, "phases": phases})
    for p in phases:
        if p["status_code"] == Status.OK:
            out.say(f"theta0 = {p['theta0']:.10g}: avalanche at W_aval = {p['W_aval']:.12g}, "
                    f"none at W_fail = {p['W_fail']:.12g}; fold at W = {p['W_fold']:.14g} "
                    f"+- {p['W_fold_err']:.1e} ({p['status']})")
        else:
            out.say(f"theta0 = {p['theta0']:.10g}: no threshold: {p['status']}")
    _finish(out)
    if bad:
        words = "; ".join(sorted({s.message + _HINTS[s] for s in bad}))
        raise Failure(f"no threshold for {len(bad)} of {len(phases)} phase(s): {words}")


def _cmd_rare(a, argv, state):
    import pathlib

    from .analysis import distributed

    where = distributed.initialize_from_args(a)
    if where.count > 1 and a.out is None:
        raise UsageError("--out FILE is needed with several processes (they share "
                         "FILE.parts/; process 0 writes FILE)")
    out = _start(a, argv, _file(a) if where.index == 0 else None)
    if where.index:
        out.say = lambda line: None
    import jax

    from .analysis import rare

    folder = None if where.count == 1 else pathlib.Path(f"{a.out}.parts")

    rows = []
    method = "subset simulation on log g0_c (jaxmf.analysis.rare.f_aval_tail)"
    state["note"] = (f"finished replicas are in {folder}; rerun the same command to resume"
                     if folder is not None else
                     f"finished W points are in {out.file}" if out.file is not None
                     else "nothing was saved (no --out)")

    def on_row(row):
        rows.append(row._asdict())
        out.save({"complete": False, "method": method, "rows": rows})
        out.say(f"R = {row.R}, W = {row.W:g}, g0 = {row.g0:g}: f_aval = {row.f:.4e} +- "
                f"{row.stderr:.1e} (floor {row.floor:.1e}, reliable: {_yes(row.reliable)})")

    with contextlib.redirect_stdout(sys.stderr):
        rare.f_aval_tail(a.R, a.W, key=jax.random.key(a.seed), g0=tuple(a.g0), n=a.n,
                         replicas=a.replicas, thin=a.thin, max_levels=a.max_levels,
                         dist=a.dist, progress=not a.quiet and where.index == 0,
                         callback=on_row, folder=folder)
    if where.index:
        return
    out.save({"complete": True, "method": method, "rows": rows})
    _finish(out)


def _cmd_eta_table(a, argv, state):
    from .tables.eta import build_eta_table, partial_path

    a.out = f"eta_{a.dist}.npz" if a.out is None else a.out
    path = check_file(a.out)
    out = _start(a, argv)
    part = partial_path(path)
    state["note"] = f"finished nodes are in {part}; rerun the same command to resume"
    build_eta_table(a.dist, path=str(path), refine=a.refine, progress=not a.quiet,
                    metadata=out.meta)
    out.save({"table": str(path), "dist": a.dist, "refine": a.refine})
    out.say(f"eta table ({a.dist}) written to {path}; it replaces the shipped one when "
            f"copied to jaxmf/data/eta_{a.dist}.npz")
    out.finish()


def _cmd_goe_table(a, argv, state):
    from .tables import goe

    a.out = "ptilde_goe.npz" if a.out is None else a.out
    path = check_file(a.out)
    out = _start(a, argv)
    goe.build(a.samples, a.seed, path=str(path), progress=not a.quiet, metadata=out.meta)
    out.save({"table": str(path), "samples": a.samples, "seed": a.seed})
    out.say(f"GOE ptilde table written to {path}; it replaces the shipped one when copied "
            "to jaxmf/data/ptilde_goe.npz")
    out.finish()


def build_parser() -> Parser:
    p = Parser(
        prog="jaxmf",
        description="Entanglement mean-field theory of thermalizing avalanches "
                    "(Crowley & Chandran, PRB 106, 184208). Entropies in nats.",
        epilog="Every verb: --out (result file or folder, with a metadata block), "
               "--json (print the result document instead of the summary), --quiet (no "
               "progress on stderr). Exit status: 0 success, 1 failure, 2 bad arguments, "
               "130/143 interrupted. 'jaxmf VERB --help' describes a verb.")
    p.add_argument("--version", action="version", version=f"jaxmf {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True,
                           title="verbs")
    commands = {name: globals()["_cmd_" + name.replace("-", "_")] for name, *_ in VERBS}
    for name, add_arguments, help_text, description in VERBS:
        verb = sub.add_parser(name, help=help_text, description=description)
        add_arguments(verb)
        verb.set_defaults(fn=commands[name])
    return p


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interruption so that finished work is reported."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _one_line(err) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def main(argv=None) -> int:
    """Run ``jaxmf`` with ``argv`` (default sys.argv[1:]); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error (already printed)
        return stop.code if isinstance(stop.code, int) else 2
    prog, state = f"jaxmf {args.verb}", {}
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave SIGTERM alone
        previous = None

    def error(text, status):
        print(f"{prog}: error: {text}", file=sys.stderr, flush=True)
        return status

    try:
        args.fn(args, argv, state)
        return 0
    except UsageError as err:
        return error(_one_line(err), 2)
    except Failure as err:
        return error(_one_line(err), 1)
    except ValueError as err:  # the library's own check of a value
        return error(_one_line(err), 2)
    except (OSError, RuntimeError, MemoryError) as err:
        return error(f"{type(err).__name__}: {_one_line(err)}", 1)
    except KeyboardInterrupt as err:
        note = state.get("note")
        print(f"{prog}: interrupted" + (f"; {note}" if note else ""), file=sys.stderr,
              flush=True)
        return 143 if isinstance(err, _Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
