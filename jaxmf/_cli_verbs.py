"""The verbs of the ``jaxmf`` command and their arguments (defaults from the library).

Each default is read from the signature of the library function the verb calls, so the
command and the API cannot drift apart; the few that the API leaves to the caller
(sample counts, seeds) are stated in the help.
"""

from __future__ import annotations

import inspect
import os

from ._checks import DISTRIBUTIONS
from ._cli_args import count, finite, integer, nonnegative, positive, radius, seed
from .analysis import ensemble, rare, thresholds
from .analysis.distributed import add_process_arguments
from .enhancement import eta
from .meanfield import solve
from .models import chain, ed, lattice, symmetric
from .tables import goe
from .tables.eta import build_eta_table


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


def _memory_gib() -> float:
    """8 GiB, or the machine's memory if smaller."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        total = 8.0
    return min(8.0, round(total, 1))


ED_MAX_MEMORY_GIB = _memory_gib()
RARE_LEVEL_MULTIPLE = round(1.0 / _default(rare.f_aval_tail, "p0"))


def _dist(p, fn):
    p.add_argument("--dist", choices=DISTRIBUTIONS, default=_default(fn, "dist"),
                   help="resonance statistics ptilde of the bath (default: %(default)s)")


def _file(p, what):
    p.add_argument("--out", metavar="FILE",
                   help=f"write {what} and the run's metadata to this JSON file (written "
                        "atomically; its folder must exist); default: summary only")


def _common(p):
    p.add_argument("--json", action="store_true",
                   help="print the result document (metadata + result, one JSON line) on "
                        "stdout instead of the summary")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")


def _reproduce(p):
    p.add_argument("--quick", action="store_true",
                   help="smaller ensembles: a few minutes on a 2-core CPU")
    p.add_argument("--only", nargs="+", metavar="FIG",
                   help="only these figure groups (fig1d fig2 fig3 fig4 fig5 rare)")
    p.add_argument("--out", metavar="DIR",
                   help="folder for the figures (PNG, PDF), their data (JSON), REPORT.md "
                        "and summary.json; created if absent (default: jaxmf-figures)")
    _common(p)


def _eta(p):
    p.add_argument("--g", type=nonnegative, nargs="+", required=True, metavar="G",
                   help="reduced couplings g (finite, >= 0)")
    _dist(p, eta)
    _file(p, "g, eta, [S] and Czz")
    _common(p)


def _chain(p):
    p.add_argument("--N", type=count, required=True, help="number of l-bits (>= 1)")
    p.add_argument("--alpha", type=positive, required=True,
                   help="decay ratio of the couplings, > 0 (alpha_c = 1/sqrt 2)")
    p.add_argument("--g10", type=positive, default=_default(chain.drh_log_couplings, "g10"),
                   help="g_{1,0}, the first bare coupling, > 0 (default: %(default)s)")
    _dist(p, solve)
    _file(p, "the solution (eta_tot, n_thermal, log g_n, [S_n])")
    _common(p)


def _critical_coupling(p):
    p.add_argument("--N", type=integer(2), nargs="+", required=True,
                   help="numbers of l-bits (integers >= 2)")
    _dist(p, symmetric.critical_coupling)
    _file(p, "N and g_c(N)")
    _common(p)


def _kind(p, default, what):
    p.add_argument("--kind", choices=lattice.KINDS, default=default,
                   help="quasiperiodic (qp) or iid random potential (default: %(default)s)")
    p.add_argument("--seed", type=seed, default=None,
                   help=f"integer seed of the random {what} (--kind random; default 0)")


def _lattice(p):
    p.add_argument("--R", type=radius, required=True,
                   help="lattice radius R >= 0 (N = 2R^2 + 2R + 1 sites)")
    p.add_argument("--W", type=nonnegative, required=True,
                   help="potential strength W (finite, >= 0)")
    p.add_argument("--theta0", type=finite, help="QP phase offset (needed for --kind qp)")
    _kind(p, _default(lattice.bare_couplings, "kind"), "potential")
    p.add_argument("--g0", type=nonnegative, default=_default(lattice.bare_couplings, "g0"),
                   help="grain coupling scale g0 (finite, >= 0; default: %(default)s)")
    _dist(p, solve)
    _file(p, "eta_tot, n_thermal and the avalanche flag")
    _common(p)


def _sweep(p):
    p.add_argument("--out", metavar="DIR", required=True,
                   help="folder of the sweep (manifest, one file per finished chunk, "
                        "summary.json); rerun the same command to resume it")
    p.add_argument("--R", type=radius, nargs="+", required=True,
                   help="lattice radii (integers >= 0, no repeats)")
    p.add_argument("--W", type=nonnegative, nargs="+", required=True,
                   help="potential strengths (finite, >= 0, no repeats)")
    _kind(p, "qp", "draws")
    p.add_argument("--samples", type=count, default=64,
                   help="theta0 grid points (qp) or random draws per (W, R) (default: "
                        "%(default)s)")
    p.add_argument("--g0", type=nonnegative, default=_default(ensemble.sweep, "g0"),
                   help="grain coupling scale g0 (finite, >= 0; default: %(default)s)")
    _dist(p, ensemble.sweep)
    _common(p)
    add_process_arguments(p)


def _ed(p):
    p.add_argument("--N", type=count, required=True,
                   help="number of l-bits (>= 1; the dimension is 8 x 2^N)")
    p.add_argument("--alpha", type=nonnegative, required=True,
                   help="coupling decay J_n = J1 alpha^(n-1) (finite, >= 0)")
    p.add_argument("--J1", type=finite, default=ed.DEFAULTS["J1"],
                   help="first coupling J_1 of the Hamiltonian, an energy (default: "
                        "%(default)s)")
    p.add_argument("--samples", type=count, default=10,
                   help="number of realizations (default: %(default)s)")
    p.add_argument("--seed", type=seed, default=0, help="integer seed (default: %(default)s)")
    p.add_argument("--max-memory", type=positive, default=ED_MAX_MEMORY_GIB, metavar="GIB",
                   help="refuse sizes whose dense diagonalization needs more than this "
                        "(GiB; also the batch budget; default: %(default)s = 8 or the "
                        "machine's memory if smaller)")
    _file(p, "the end-spin entropy statistics")
    _common(p)


def _threshold(p):
    fn = thresholds.threshold_W
    p.add_argument("--R", type=radius, required=True, help="lattice radius R >= 0")
    p.add_argument("--theta0", type=finite, nargs="+", required=True,
                   help="QP phase offsets (finite)")
    p.add_argument("--g0", type=nonnegative, default=_default(fn, "g0"),
                   help="grain coupling scale g0 (finite, >= 0; default: %(default)s)")
    p.add_argument("--W-min", type=nonnegative, default=_default(fn, "W_min"),
                   help="bottom of the W scan (>= 0; default: %(default)s)")
    p.add_argument("--W-max", type=positive, default=_default(fn, "W_max"),
                   help="top of the W scan (> W-min; default: %(default)s)")
    p.add_argument("--n-scan", type=integer(2), default=_default(fn, "n_scan"),
                   help="scan points (>= 2; default: %(default)s)")
    p.add_argument("--rtol", type=positive, default=_default(fn, "rtol"),
                   help="relative width of the final bracket (> 0; default: %(default)s)")
    _dist(p, fn)
    _file(p, "W_aval, W_fail, the fold and the status of each phase")
    _common(p)


def _rare(p):
    fn = rare.f_aval_tail
    p.add_argument("--R", type=radius, required=True, help="lattice radius R >= 0")
    p.add_argument("--W", type=positive, nargs="+", required=True,
                   help="disorder strengths (finite, > 0)")
    p.add_argument("--g0", type=positive, nargs="+", default=list(_default(fn, "g0")),
                   help="grain couplings (> 0), all read off the same runs (default: "
                        "%(default)s)")
    p.add_argument("--n", type=integer(RARE_LEVEL_MULTIPLE, multiple=RARE_LEVEL_MULTIPLE),
                   default=_default(fn, "n"),
                   help=f"samples per level and replica (a multiple of "
                        f"{RARE_LEVEL_MULTIPLE}; default: %(default)s)")
    p.add_argument("--replicas", type=count, default=_default(fn, "replicas"),
                   help="independent runs; their spread is the error bar, and a row is "
                        "'reliable' only with >= 3 (default: %(default)s)")
    p.add_argument("--thin", type=count, default=_default(fn, "thin"),
                   help="Markov steps per recorded state; cost grows with it, and 1 lets "
                        "the populations coalesce below f ~ 1e-4 (default: %(default)s)")
    p.add_argument("--max-levels", type=integer(0), default=_default(fn, "max_levels"),
                   help="subset-simulation level limit (default: %(default)s)")
    p.add_argument("--seed", type=seed, default=0, help="integer seed (default: %(default)s)")
    _dist(p, fn)
    p.add_argument("--out", metavar="FILE",
                   help="JSON file of the rows and the run's metadata, rewritten "
                        "(atomically) after every W point: an interrupted run keeps its "
                        "finished points ('complete': false); required with several "
                        "processes, which share FILE.parts/")
    _common(p)
    add_process_arguments(p)


def _eta_table(p):
    p.add_argument("--dist", choices=DISTRIBUTIONS, default="goe",
                   help="resonance statistics ptilde (default: %(default)s)")
    p.add_argument("--refine", type=count, default=_default(build_eta_table, "refine"),
                   help="quadrature refinement (default: %(default)s)")
    p.add_argument("--out", metavar="FILE",
                   help="output .npz (default: eta_DIST.npz in the current folder; copy it "
                        "to jaxmf/data/ to replace the shipped table). Finished nodes are "
                        "kept in FILE's .partial.npz; rerunning resumes from it")
    _common(p)


def _goe_table(p):
    p.add_argument("--samples", type=count, default=_default(goe.build, "n_samples"),
                   help="Monte Carlo samples (default: %(default)s)")
    p.add_argument("--seed", type=seed, default=_default(goe.build, "seed"),
                   help="integer seed (default: %(default)s)")
    p.add_argument("--out", metavar="FILE",
                   help="output .npz (default: ptilde_goe.npz in the current folder; copy "
                        "it to jaxmf/data/ to replace the shipped table)")
    _common(p)


# (name, add arguments, one-line help, description)
VERBS = [
    ("reproduce", _reproduce, "regenerate every figure of the paper and REPORT.md",
     ("Compute and plot every figure group of the paper (or --only some) and write "
      "REPORT.md, the paper's numbers next to this run's. Finished groups stay on disk.")),
    ("eta", _eta, "eta(g), [S](g) and Czz(g) for given reduced couplings",
     ("The single-l-bit functions of the reduced coupling g: the entropic enhancement "
      "eta (A27), the mean entropy [S] (nats) and the memory Czz (A14).")),
    ("chain", _chain, "solve the DRH chain g_{n,0} = g10 alpha^(n-1)",
     ("Solve the mean-field equations for the DRH chain of Sec. VI: eta_tot, the "
      "thermalized count n_thermal and whether the avalanche runs through.")),
    ("critical-coupling", _critical_coupling,
     "g_c(N) of the symmetric model (largest localized g0)",
     ("The critical coupling g_c(N) of N equal couplings: the largest bare coupling with a "
      "localized mean-field solution.")),
    ("lattice", _lattice, "solve one 2D lattice realization (Sec. VII)",
     ("Solve the mean field of one realization of the 2D lattice model (Sec. VII): a QP "
      "potential with phase --theta0, or an iid random one with --kind random --seed.")),
    ("sweep", _sweep, "ensemble sweep over W x R (resumable; f_aval table)",
     ("Mean field of every realization on a W x R grid (theta0 grid or random draws), "
      "written chunk by chunk to the folder --out; rerunning resumes. Prints f_aval.")),
    ("ed", _ed, "exact diagonalization of the DRH central-grain chain",
     ("Exact diagonalization of the central-grain chain (Sec. VI): the end-spin "
      "entanglement entropy averaged over eigenstates and realizations. Sizes whose "
      "dense diagonalization exceeds --max-memory are refused before anything runs.")),
    ("threshold", _threshold, "avalanche threshold W_th(theta0) of QP lattices",
     ("The W at which a QP lattice stops avalanching, per phase: a bracket [W_aval, "
      "W_fail] and the fold inside it. Exit status 1 if a phase has no threshold in the "
      "scan (the reason is printed).")),
    ("rare", _rare, "rare avalanches of random lattices by subset simulation",
     ("f_aval(W, g0) of random lattices down to ~1e-12 by subset simulation, one row per "
      "(W, g0), with replica error bars and a reliability flag. Progress on stderr.")),
    ("eta-table", _eta_table, "rebuild an eta table by 2D quadrature (~2 min)",
     ("Recompute the table of eta(g) by 2D quadrature (resumable: finished chunks are kept "
      "in a partial file next to --out).")),
    ("goe-table", _goe_table, "rebuild the GOE ptilde table by Monte Carlo",
     ("Recompute the table of the GOE resonance law ptilde by Monte Carlo.")),
]
