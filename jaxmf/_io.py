"""Files: atomic writes and JSON that holds NumPy and JAX values."""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
import threading

import numpy as np

WRITING = threading.RLock()
"""Held while `atomic_write` writes: a command stopped by a signal waits for it, so no
temporary file is left behind."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Write ``path`` through ``write(binary file)`` to a temporary file, then rename:
    the file is either absent or complete. The file gets the mode a plain ``open``
    would give it (0666 minus the umask, e.g. 0644), not mkstemp's private 0600."""
    path = pathlib.Path(path)
    with WRITING:
        _atomic_write(path, write)


def _atomic_write(path, write):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, obj):
    """Atomically write ``obj`` (plain values, NumPy arrays, NamedTuples) as JSON."""
    atomic_write(path, lambda f: f.write(json.dumps(to_builtin(obj), indent=1).encode()))


def to_builtin(x):
    """NumPy/JAX arrays and scalars (also nested in dicts, lists, NamedTuples) as plain
    Python values, ready for ``json.dumps``."""
    if hasattr(x, "_asdict"):
        return {k: to_builtin(v) for k, v in x._asdict().items()}
    if isinstance(x, dict):
        return {str(k): to_builtin(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_builtin(v) for v in x]
    if isinstance(x, (np.ndarray, np.generic)) or hasattr(x, "__array__"):
        a = np.asarray(x)
        return a.tolist() if a.ndim else a.item()
    return x
