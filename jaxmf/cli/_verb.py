"""What every verb of the ``jaxmf`` command shares: its declaration and the common flags.

A verb is declared once, as a `Verb` (name, help, description, its arguments and the
function that runs it) in its own module; `jaxmf.cli.VERBS` lists them. Every default is
read from the signature of the library function the verb calls, so the command and the
API cannot drift apart; the few that the API leaves to the caller (sample counts, seeds)
are stated in the help.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import NamedTuple

from .._status import Status
from ..resonance import DISTRIBUTIONS
from ._args import Failure, UsageError, seed
from ._output import Output, check_file


class Verb(NamedTuple):
    """One verb: ``jaxmf NAME ...``.

    ``arguments(parser)`` adds its flags; ``run(args, argv, state)`` does the work, and
    may set ``state["note"]``, a function returning where the finished work is (or None),
    called when the run is interrupted.
    """

    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, list, dict], None]


def default(fn, name):
    """The default of argument ``name`` of the library function ``fn``."""
    return inspect.signature(fn).parameters[name].default


# --------------------------------------------------------------------------- flags
def add_dist(p, fn):
    p.add_argument(
        "--dist",
        choices=DISTRIBUTIONS,
        default=default(fn, "dist"),
        help="resonance statistics ptilde of the bath (default: %(default)s)",
    )


def add_file(p, what):
    p.add_argument(
        "--out",
        metavar="FILE",
        help=f"write {what} and the run's metadata to this JSON file (written "
        "atomically; its folder must exist); default: summary only",
    )


def add_common(p):
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result document (metadata + result, one JSON line) on "
        "stdout instead of the summary",
    )
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")


def add_kind(p, kinds, default_kind, what):
    p.add_argument(
        "--kind",
        choices=kinds,
        default=default_kind,
        help="quasiperiodic (qp) or iid random potential (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=seed,
        default=None,
        help=f"integer seed of the random {what} (--kind random; default 0)",
    )


# --------------------------------------------------------------------------- running
def start(a, argv, file=None) -> Output:
    """The run's output; its metadata is taken now (the time is the start time)."""
    return Output(a.verb, argv, a, file)


def out_file(a):
    """The checked --out file of a JSON verb, or None without --out."""
    return None if a.out is None else check_file(a.out)


def finish(out):
    if out.file is not None:
        out.say(f"written to {out.file}")
    out.finish()


def yes(flag) -> str:
    return "yes" if flag else "no"


def not_converged(res):
    if not bool(res.converged):
        raise Failure(
            f"{Status.NOT_CONVERGED.message} after {int(res.iterations)} "
            "iterations (the numbers above are not a solution)"
        )


def kind_args(a):
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


def unique(flag, values):
    if len(set(values)) != len(values):
        raise UsageError(f"{flag} must not repeat a value, got {values}")


# --------------------------------------------------------------------------- models
def add_model(p):
    """``--model`` and ``--potential``: the model family the verb runs (the paper's 2D
    lattice by default)."""
    from ..models import FAMILIES

    p.add_argument(
        "--model",
        default="square",
        metavar="NAME",
        help=f"model family: one of {', '.join(FAMILIES)} (the 2D lattice of "
        "the paper, the 1D chain, the 3D octahedral lattice) or a family "
        "of yours as package.module:function (called with R); default: "
        "%(default)s",
    )
    p.add_argument(
        "--potential",
        choices=("triangle", "cosine"),
        default=None,
        help="on-site potential of the built-in models: the paper's triangle "
        "wave or W cos(theta) (default: triangle)",
    )


def model_at(a, R):
    """The model of ``--model``/``--potential`` at size R (UsageError if it cannot be
    built)."""
    from ..models import Model, family_from_name

    try:
        model = family_from_name(a.model, a.potential)(R)
    except (ValueError, TypeError, ImportError) as err:
        raise UsageError(f"--model {a.model}: {err}") from None
    if not isinstance(model, Model):
        raise UsageError(
            f"--model {a.model} returned {type(model).__name__}, not a jaxmf.models.Model"
        )
    return model


def model_family(a):
    """The family R -> model of ``--model``/``--potential`` (for sweeps over R)."""
    model_at(a, 1)  # fails early, as a usage error, on a bad name
    return lambda R: model_at(a, R)
