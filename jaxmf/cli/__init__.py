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
  time) next to the result; see :mod:`jaxmf.cli._output`.
* A human summary on stdout, one result per line (``--json``: the JSON document
  instead); progress on stderr, silenced by ``--quiet``.
* Arguments and the output location are checked before anything is computed. Long
  jobs (rare, sweep, ed, eta-table, reproduce) write what they finish as they go, each
  file atomically, so an interrupted run keeps its finished part (and sweep, ed and
  eta-table resume from it).
* Ctrl-C (SIGINT) and SIGTERM stop every verb at once, also inside a long computation:
  one line on stderr says where the finished part is and whether a rerun resumes it.
* Errors are one line on stderr, ``jaxmf VERB: error: ...``. Exit status: 0 success,
  1 failure (the run did not reach a result, e.g. no threshold in the scan), 2 bad
  arguments, 130 / 143 interrupted (Ctrl-C / SIGTERM).
* Defaults are those of the library functions the verbs call.

Each verb is declared once, as a `Verb` in its own module (``jaxmf/cli/_VERB.py``):
its name, help, flags and the function that runs it; `VERBS` lists them.
"""

from ._main import VERBS, build_parser, main
from ._verb import Verb

__all__ = ["VERBS", "Verb", "build_parser", "main"]
