"""The process-layout flags of the verbs that run as several processes (sweep, rare).

:func:`add_process_arguments` adds ``--coordinator``, ``--num-processes``,
``--process-id`` and ``--distributed`` to a verb's parser; :func:`initialize_from_args`
starts ``jax.distributed`` as they say. The coordination itself (shares, barriers) is
the run layer's, :mod:`jaxmf._processes`.
"""

from __future__ import annotations

from .._processes import Layout, initialize
from ._args import UsageError, count, integer

__all__ = ["add_process_arguments", "initialize_from_args"]


def add_process_arguments(parser):
    """Add the process-layout flags to an ``argparse`` parser (an argument group).

    ``--coordinator HOST:PORT``, ``--num-processes P``, ``--process-id I``: an explicit
    layout (any of them left out is detected from the scheduler's environment);
    ``--distributed``: detect all three from the environment (e.g. inside ``srun``).
    Without any of them the run is one process. Read back by
    :func:`initialize_from_args`.
    """
    g = parser.add_argument_group(
        "processes",
        "run as one of several processes (jax.distributed) sharing the "
        "output folder; start every process with the same command",
    )
    g.add_argument(
        "--distributed",
        action="store_true",
        help="take the process layout from the scheduler's environment "
        "(SLURM srun, Open MPI, JAX_COORDINATOR_ADDRESS)",
    )
    g.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        default=None,
        help="address of process 0, reachable from every process",
    )
    g.add_argument(
        "--num-processes", metavar="P", type=count, default=None, help="number of processes"
    )
    g.add_argument(
        "--process-id",
        metavar="I",
        type=integer(0),
        default=None,
        help="this process's index, 0..P-1",
    )
    return g


def initialize_from_args(args) -> Layout:
    """Start ``jax.distributed`` as the flags of :func:`add_process_arguments` say.

    Returns (0, 1) without touching JAX when no process flag is given. Raises
    UsageError for an inconsistent layout (process id >= process count, a coordinator
    address without a port, or ``--distributed`` outside a scheduler step).
    """
    explicit = (args.coordinator, args.num_processes, args.process_id)
    if not args.distributed and all(v is None for v in explicit):
        return Layout(0, 1)
    if args.coordinator is not None and ":" not in args.coordinator:
        raise UsageError(f"--coordinator must be HOST:PORT, got {args.coordinator!r}")
    if (
        args.num_processes is not None
        and args.process_id is not None
        and args.process_id >= args.num_processes
    ):
        raise UsageError(
            f"--process-id {args.process_id} must be < --num-processes {args.num_processes}"
        )
    try:
        return initialize(*explicit)
    except ValueError as err:
        if "should be defined" not in str(err) and "must be defined" not in str(err):
            raise
        raise UsageError(
            "no process layout: outside a scheduler step (SLURM srun, Open "
            "MPI) give --coordinator, --num-processes and --process-id "
            f"({err})"
        ) from None
