"""The parser of the ``jaxmf`` command and its entry point: exit status, errors and
interruptions, the same for every verb."""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings

from .._io import WRITING
from .._version import __version__
from . import (
    _chain,
    _critical_coupling,
    _ed,
    _eta,
    _eta_table,
    _goe_table,
    _lattice,
    _rare,
    _reproduce,
    _sweep,
    _threshold,
)
from ._args import Failure, Parser, UsageError

VERBS = tuple(
    m.VERB
    for m in (
        _reproduce,
        _eta,
        _chain,
        _critical_coupling,
        _lattice,
        _sweep,
        _ed,
        _threshold,
        _rare,
        _eta_table,
        _goe_table,
    )
)
"""Every verb of the command, in the order of ``jaxmf --help``."""

EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}


def build_parser() -> Parser:
    p = Parser(
        prog="jaxmf",
        description="Entanglement mean-field theory of thermalizing avalanches "
        "(Crowley & Chandran, PRB 106, 184208). Entropies in nats.",
        epilog="Every verb: --out (result file or folder, with a metadata block), "
        "--json (print the result document instead of the summary), --quiet (no "
        "progress on stderr). Exit status: 0 success, 1 failure, 2 bad arguments, "
        "130/143 interrupted. 'jaxmf VERB --help' describes a verb.",
    )
    p.add_argument("--version", action="version", version=f"jaxmf {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True, title="verbs")
    for verb in VERBS:
        sp = sub.add_parser(verb.name, help=verb.help, description=verb.description)
        p.verbs[verb.name] = sp
        verb.arguments(sp)
        sp.set_defaults(fn=verb.run)
    return p


def _one_line(err) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 400 else text[:397] + "..."


class _Signal(BaseException):
    """SIGINT or SIGTERM, raised in the main thread while the verb runs in a worker."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_signal(signum, frame):
    raise _Signal(signum)


class _LineTracker:
    """stderr, remembering whether its current line shows text (a progress bar drawn
    with carriage returns), so that an interruption message starts on a fresh line.
    :meth:`mute` drops what the still running worker writes after it (a progress bar
    redrawn below the message would hide it)."""

    def __init__(self, stream):
        self._stream, self._tail = stream, ""
        self._lock, self._muted = threading.Lock(), False

    def write(self, text):
        with self._lock:
            if self._muted:
                return len(text)
            self._tail = (self._tail + text).rsplit("\n", 1)[-1][-4096:]
            return self._stream.write(text)

    def mute(self):
        with self._lock:  # no write of the worker is under way after this
            self._muted = True

    def mid_line(self) -> bool:
        shown = [s for s in self._tail.split("\r") if s]
        return bool(shown) and bool(shown[-1].strip())

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _supervised(fn):
    """Run ``fn()`` in a worker thread while the main thread waits for it.

    Python runs signal handlers in the main thread only, between bytecodes: a verb that
    sits in one long XLA computation (a dense eigh) or in a host callback would otherwise
    notice Ctrl-C only when it returns, or turn it into an error of the callback. Here
    the waiting main thread handles it at once (`_Signal`).
    """
    box = {}

    def work():
        try:
            box["value"] = fn()
        except BaseException as err:  # handed to the main thread
            box["error"] = err

    worker = threading.Thread(target=work, name="jaxmf-verb", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _note(state) -> str:
    note = state.get("note")
    try:
        text = note() if callable(note) else note
    except Exception:  # the message must not fail: say nothing about the files
        text = None
    return f"; {text}" if text else ""


def main(argv=None) -> int:
    """Run ``jaxmf`` with ``argv`` (default sys.argv[1:]); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            verb = parser.verbs[args.verb]
            verb.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as stop:  # --help, --version, or a usage error (already printed)
        return stop.code if isinstance(stop.code, int) else 2
    prog, state = f"jaxmf {args.verb}", {}
    supervise = threading.current_thread() is threading.main_thread()
    previous, stderr, showwarning = {}, sys.stderr, warnings.showwarning
    tracker = _LineTracker(stderr)

    def say(text):
        print(text, file=stderr, flush=True)

    def warn(message, category, *args, **kwargs):  # one line, like the errors
        say(f"{prog}: warning: {message}")

    def error(text, status):
        say(f"{prog}: error: {text}")
        return status

    def interrupted(status):
        tracker.mute()
        if tracker.mid_line():
            stderr.write("\n")
        say(f"{prog}: interrupted{_note(state)}")
        return status

    try:
        warnings.showwarning = warn
        if supervise:
            for s in EXIT_INTERRUPTED:
                previous[s] = signal.signal(s, _raise_signal)
            sys.stderr = tracker
            _supervised(lambda: args.fn(args, argv, state))
        else:
            args.fn(args, argv, state)
        return 0
    except _Signal as sig:
        # The worker cannot be stopped: wait for a file being written (atomic writes
        # hold WRITING), report, and leave without running the worker to its end.
        for s in EXIT_INTERRUPTED:
            signal.signal(
                s, lambda signum, frame: os._exit(EXIT_INTERRUPTED[signal.Signals(signum)])
            )
        WRITING.acquire(timeout=60)
        sys.stdout.flush()
        os._exit(interrupted(EXIT_INTERRUPTED[sig.signum]))
    except UsageError as err:
        return error(_one_line(err), 2)
    except Failure as err:
        return error(_one_line(err), 1)
    except ValueError as err:  # the library's own check of a value
        return error(_one_line(err), 2)
    except (OSError, RuntimeError, MemoryError) as err:
        return error(f"{type(err).__name__}: {_one_line(err)}", 1)
    except KeyboardInterrupt:  # raised by the verb itself
        return interrupted(130)
    finally:
        sys.stderr = stderr
        warnings.showwarning = showwarning
        for s, handler in previous.items():
            signal.signal(s, handler)
