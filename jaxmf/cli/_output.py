"""Output files of the ``jaxmf`` command: where they may go, and what they hold.

Every file the command writes holds one metadata block::

    {"metadata": {"jaxmf_version", "jax_version", "device": {"platform", "kind",
                  "count"}, "command": [argv], "parameters": {every argument},
                  "seed" (verbs with --seed), "time" (UTC, ISO 8601, start of the run)},
     "result": {...}}

(``.npz`` tables store the same block as a JSON string under the key ``metadata``).
Non-finite numbers are written as ``null`` (strict JSON). Files are written atomically
(a temporary file renamed over the target), so a file is either absent or complete.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import pathlib
import sys
import tempfile

from .._io import to_builtin, write_json
from .._version import __version__
from ._args import Failure, UsageError

SYSTEM_FOLDERS = ("/proc", "/sys", "/dev")
SUMMARY = "summary.json"
"""The self-describing result file that folder verbs (sweep, reproduce) add to DIR."""


# --------------------------------------------------------------------------- locations
def _system(path: pathlib.Path, flag: str):
    resolved = path.resolve()
    for root in SYSTEM_FOLDERS:
        if resolved == pathlib.Path(root) or pathlib.Path(root) in resolved.parents:
            raise UsageError(f"{flag} {path}: refusing to write under {root}")


def _probe(folder: pathlib.Path, path, flag: str):
    """Create and remove a temporary file in ``folder``: the real test of writability."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".jaxmf-probe-")
        os.close(fd)
        os.remove(tmp)
    except OSError as err:
        raise UsageError(
            f"{flag} {path}: cannot write in {folder} ({err.strerror or err})"
        ) from None


def check_file(path, flag: str = "--out") -> pathlib.Path:
    """UsageError unless ``path`` can be written as a file: not a folder, not a system
    folder, its parent folder exists and accepts a new file."""
    text = str(path)
    p = pathlib.Path(text)
    if not text:
        raise UsageError(f"{flag} is empty; give a file path")
    if text.endswith(os.sep) or p.is_dir():
        raise UsageError(f"{flag} {text!r} is a folder; give a file path")
    _system(p, flag)
    if p.exists() and not p.is_file():
        raise UsageError(f"{flag} {text}: exists and is not a regular file")
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {text}: folder {parent} does not exist")
    _probe(parent, text, flag)
    return p


def check_folder(path, flag: str = "--out") -> pathlib.Path:
    """UsageError unless ``path`` is a folder or can be created as one (and written)."""
    text = str(path)
    p = pathlib.Path(text)
    if not text:
        raise UsageError(f"{flag} is empty; give a folder")
    _system(p, flag)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {text}: exists and is not a folder")
    existing = p
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {text}: {existing} is not a folder")
    _probe(existing, text, flag)
    return p


# --------------------------------------------------------------------------- contents
def clean(x):
    """Plain JSON values: arrays -> lists, non-finite floats -> None."""
    x = to_builtin(x)
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    return x


def device() -> dict:
    import jax

    d = jax.devices()[0]
    return {"platform": d.platform, "kind": d.device_kind, "count": jax.device_count()}


def metadata(verb: str, argv, parameters: dict) -> dict:
    import jax

    meta = {
        "jaxmf_version": __version__,
        "jax_version": jax.__version__,
        "device": device(),
        "command": ["jaxmf", *argv],
        "parameters": clean(parameters),
    }
    if parameters.get("seed") is not None:
        meta["seed"] = parameters["seed"]
    meta["time"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return meta


class Output:
    """What one run of a verb prints and writes.

    ``say`` prints a summary line on stdout (not with --json); ``save`` writes the result
    file (atomically, every call: incremental verbs call it after each finished piece);
    ``finish`` prints the JSON document with --json.
    """

    def __init__(self, verb, argv, args, file=None):
        self.verb, self.args = verb, args
        params = {
            k: (str(v) if isinstance(v, pathlib.Path) else v)
            for k, v in vars(args).items()
            if k not in ("fn", "verb")
        }
        self.meta = metadata(verb, argv, params)
        self.file = file
        self.stdout = sys.stdout
        self.doc = None
        self.note = None  # where finished work is, for an interruption message

    def _print(self, text: str):
        try:
            print(text, file=self.stdout, flush=True)
        except BrokenPipeError:  # the reader went away (e.g. `| head`): keep working
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stdout.fileno())
            os.close(devnull)

    def say(self, line: str):
        if not self.args.json:
            self._print(line)

    def save(self, result: dict):
        self.doc = {"metadata": self.meta, "result": clean(result)}
        if self.file is None:
            return
        try:
            write_json(self.file, self.doc)
        except OSError as err:
            self._print(json.dumps(self.doc))
            raise Failure(
                f"could not write {self.file} ({err.strerror or err}); the "
                "result was printed on stdout instead"
            ) from None

    def finish(self):
        if self.args.json and self.doc is not None:
            self._print(json.dumps(self.doc))
