"""Argument types and the parser of the ``jaxmf`` command (one-line errors, exit 2).

Every value is checked by an argparse ``type=`` (so a bad value is a usage error, exit
status 2, before anything is computed) and the message names the flag and the accepted
range: ``--theta0 nan`` -> "--theta0 must be a finite number, got 'nan'".
"""

from __future__ import annotations

import argparse
import math
import re
import sys

SEED_MAX = 2**63
"""Seeds are integers in [0, 2^63) (``jax.random.key`` and the sweep files accept them)."""


class UsageError(ValueError):
    """A bad argument or output location: one line on stderr, exit status 2."""


class Failure(RuntimeError):
    """The command ran but did not reach a result (e.g. no threshold): exit status 1."""


def _fail(text: str):
    raise argparse.ArgumentTypeError(text)


def integer(minimum: int, maximum: int | None = None, multiple: int | None = None):
    """argparse type: an integer in [minimum, maximum] (a multiple of ``multiple``)."""
    upper = "" if maximum is None else f" and < {maximum}"
    what = f"an integer >= {minimum}{upper}" + (f", a multiple of {multiple}" if multiple else "")

    def parse(text):
        try:
            value = int(text, 10)
        except ValueError:
            _fail(f"must be {what}, got {text!r}")
        if (
            value < minimum
            or (maximum is not None and value >= maximum)
            or (multiple and value % multiple)
        ):
            _fail(f"must be {what}, got {text!r}")
        return value

    parse.accepted = what
    return parse


def large_count(minimum: int):
    """argparse type: an integer >= minimum, also written as a float (``1e20``)."""
    what = f"an integer >= {minimum} (e.g. 1000 or 1e20)"

    def parse(text):
        try:
            value = int(text, 10)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                _fail(f"must be {what}, got {text!r}")
            if not (math.isfinite(value) and value == math.floor(value)):
                _fail(f"must be {what}, got {text!r}")
        if value < minimum:
            _fail(f"must be {what}, got {text!r}")
        return value

    parse.accepted = what
    return parse


def number(minimum: float | None = None, *, strict: bool = False):
    """argparse type: a finite float, >= minimum (> minimum if ``strict``)."""
    if minimum is None:
        what = "a finite number"
    else:
        what = f"a finite number {'>' if strict else '>='} {minimum:g}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            _fail(f"must be {what}, got {text!r}")
        if not math.isfinite(value) or (
            minimum is not None and (value < minimum or (strict and value == minimum))
        ):
            _fail(f"must be {what}, got {text!r}")
        return value

    parse.accepted = what
    return parse


seed = integer(0, SEED_MAX)
radius = integer(0)
count = integer(1)
finite = number()
nonnegative = number(0.0)
positive = number(0.0, strict=True)


_ARGUMENT = re.compile(r"^argument ([^:]+): ")


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line, ``jaxmf VERB: error: ...``, exit 2.

    ``verbs`` maps each verb's name to its subparser (filled by the top-level parser).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.verbs: dict[str, argparse.ArgumentParser] = {}

    def error(self, message):
        m = _ARGUMENT.match(message)
        if m:
            flag = m.group(1).split("/")[0]
            rest = message[m.end() :]
            message = f"{flag} {rest}" if rest.startswith("must") else f"{flag}: {rest}"
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def exit(self, status=0, message=None):
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)
