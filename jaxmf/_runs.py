"""Stored runs: one folder, its manifest, and units that carry the identity of their run.

Sweeps (:mod:`jaxmf.analysis.ensemble`) and rare-event runs
(:mod:`jaxmf.analysis.rare.tail`) store their results the same way::

    FOLDER/manifest.json    format, parameters, run id, versions
    FOLDER/...              units: one .npz file per finished piece of work (a chunk of
                            realizations, one replica), written atomically

Identity. The spec of a run is the JSON-able dict of everything that changes its
numbers (model spec, realization kind, seed or phases, g0, dist, solver settings ...);
its run id is a hash of the spec's canonical JSON (:func:`run_id`). The manifest
records it, and so does every unit (field ``run_id``).

Resuming a folder (process 0, :func:`prepare`):

* a manifest that cannot be read is named, with what to do; one of another run is
  refused, with the parameters that differ;
* every unit is read and checked. One that cannot be read, lacks a field or
  contradicts its name is *damaged*: named in a warning, set aside as
  ``NAME.damaged`` (kept, never deleted) and computed again. One with another run id
  is *foreign* (e.g. the manifest was deleted and the folder reused with another
  seed): the run is refused, never mixed with it;
* the manifest is written only once the folder has passed these checks.

Several processes (:func:`run_shared`, over :mod:`jaxmf._processes`): process 0
prepares the folder and plans what is missing, every process receives that plan and
computes its share, writing its own units; a barrier ends the run.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import warnings

import jax
import numpy as np

from ._io import atomic_write, to_builtin, write_json
from ._processes import (
    Layout,
    abort_on_error,
    await_files,
    barrier,
    broadcast,
    is_main,
    layout,
    share,
)

__all__ = [
    "MANIFEST",
    "RUN_ID",
    "DamagedUnit",
    "ForeignUnit",
    "canonical_json",
    "run_id",
    "read_manifest",
    "prepare",
    "write_unit",
    "read_unit",
    "set_aside",
    "run_shared",
    "versions",
    "Layout",
    "layout",
    "is_main",
    "share",
]

MANIFEST = "manifest.json"
RUN_ID = "run_id"
"""Name of the field that holds the run id, in the manifest and in every unit."""


# --------------------------------------------------------------------------- identity
def canonical_json(spec) -> str:
    """The spec as canonical JSON: sorted keys, no spaces, NumPy values as plain ones.

    Raises ValueError for what JSON cannot hold exactly (NaN, infinities, objects).
    """
    try:
        return json.dumps(to_builtin(spec), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"a run spec must be plain JSON values (finite numbers, "
            f"strings, lists, dicts), got {spec!r}: {err}"
        ) from None


def run_id(spec) -> str:
    """Identity of a run: the first 16 hex digits of the SHA-256 of its canonical JSON.

    ``spec`` is any JSON-able dict (NumPy scalars and arrays are taken as plain values).
    Equal specs give equal ids whatever their key order; any changed value changes the
    id (1 and 1.0 are different JSON, so give numbers one type).
    """
    if not isinstance(spec, dict):
        raise ValueError(f"a run spec must be a dict, got {type(spec).__name__}")
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- manifest
def read_manifest(root, fmt):
    """The manifest of folder ``root`` (a dict), or None if there is none.

    Raises ValueError naming the file if it cannot be read (truncated, empty, not
    JSON) or is not a manifest of format ``fmt``.
    """
    path = pathlib.Path(root) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is damaged and cannot be read ({err}). Every result file in "
            f"{path.parent} records the run that made it, so the folder can be checked "
            f"without it: delete {path.name} and rerun the same command (the files of "
            f"that run are kept, any other is refused), or use a new folder"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise ValueError(
            f"{path} is not a {fmt} manifest (a folder of another kind): use a new folder"
        )
    return manifest


def _differences(old_parameters, spec):
    """{key: (stored, requested)} of the spec values that differ from the stored ones."""
    old_parameters = old_parameters if isinstance(old_parameters, dict) else {}
    return {
        k: (_short(old_parameters.get(k)), _short(to_builtin(v)))
        for k, v in spec.items()
        if canonical_json({"v": old_parameters.get(k)}) != canonical_json({"v": v})
    }


def _short(value):
    """A parameter for a message: a long sequence (a theta0 grid) as its length."""
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"<{len(value)} values>"
    return value


def prepare(root, *, fmt, spec, manifest, units, read) -> list:
    """Check (or start) the run in folder ``root``; the keys of its usable units.

    Run on process 0 before planning. The manifest's ``parameters`` must hold every key
    of ``spec``; a stored manifest whose parameters differ on one of them is refused
    (ValueError: "... other parameters ..."). Every unit is then read: a damaged one is
    set aside (:func:`set_aside`), a foreign one refuses the run (ValueError naming
    it). Only then, for a new run, ``manifest`` (with the run id added) is written.

    Args:
        root: the run's folder (created if absent).
        fmt: the format name recorded in the manifest.
        spec: the run's identity (:func:`run_id`).
        manifest: JSON-able dict to store as the manifest of a new run.
        units: callable returning the (key, path) of every unit file in the folder.
        read: ``read(key, path, run_id, legacy)``: the unit's contents, raising
            :class:`DamagedUnit` / :class:`ForeignUnit` (e.g. through
            :func:`read_unit`).

    Returns:
        the keys of the units that belong to this run, in the order of ``units()``.
    """
    root = pathlib.Path(root)
    rid = run_id(spec)
    old = read_manifest(root, fmt)
    if old is not None:
        diff = _differences(old.get("parameters"), spec)
        if diff:
            raise ValueError(
                f"{root} holds a run with other parameters (stored, "
                f"requested): {diff}; use a new folder"
            )
    # a manifest of the previous layout (no run id) vouches for the units it lists
    legacy = old is not None and RUN_ID not in old
    good, foreign = [], []
    for key, path in units() if root.is_dir() else ():
        try:
            read(key, path, rid, legacy)
            good.append(key)
        except DamagedUnit as err:
            set_aside(path, err.reason)
        except ForeignUnit as err:
            foreign.append(err)
    if foreign:
        raise ValueError(
            f"{root} holds {len(foreign)} result file(s) made by another run, e.g. "
            f"{_relative(foreign[0].path, root)} ({foreign[0].reason}; this run is "
            f"{rid}): the folder's manifest was deleted or replaced, or files were copied "
            f"in. They are not mixed into this run: use a new folder, or move them away"
        )
    if old is None:
        root.mkdir(parents=True, exist_ok=True)
        write_json(root / MANIFEST, {**manifest, RUN_ID: rid})
    return good


def _relative(path, root):
    try:
        return str(pathlib.Path(path).relative_to(root))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- units
class DamagedUnit(ValueError):
    """A unit file that cannot be read or does not hold what its name says."""

    def __init__(self, path, reason):
        self.path, self.reason = pathlib.Path(path), reason
        super().__init__(f"{self.path} is damaged ({reason})")


class ForeignUnit(ValueError):
    """A unit file made by another run (another run id, or none recorded)."""

    def __init__(self, path, reason):
        self.path, self.reason = pathlib.Path(path), reason
        super().__init__(f"{self.path} was {reason}")


def write_unit(path, arrays, rid):
    """Store ``arrays`` (dict of arrays) as the .npz unit ``path`` of run ``rid``,
    atomically (temporary file, then rename: the unit is absent or complete)."""
    atomic_write(path, lambda f: np.savez(f, **{RUN_ID: np.str_(rid)}, **arrays))


def read_unit(path, rid, *, legacy=False, fields=(), check=None) -> dict:
    """The arrays of unit ``path`` of run ``rid`` (without the run id).

    Raises:
        DamagedUnit: the file cannot be read as .npz (truncated, empty, garbage), lacks
            one of ``fields``, or ``check(arrays)`` returns a reason (a string).
        ForeignUnit: it records another run id, or none (unless ``legacy``: a unit of
            the layout before run ids, vouched for by its manifest).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if not head:
            raise DamagedUnit(path, "an empty file")
        if head != b"PK\x03\x04":  # every .npz is a zip archive
            raise DamagedUnit(path, "not an .npz file")
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except DamagedUnit:
        raise
    except Exception as err:  # noqa: BLE001  (BadZipFile, EOFError, OSError, zlib ...)
        raise DamagedUnit(path, f"cannot be read: {type(err).__name__}: {err}") from None
    stored = data.pop(RUN_ID, None)
    if stored is None and not legacy:
        raise ForeignUnit(path, "made without a run id (by another run or an older version)")
    if stored is not None and str(stored) != rid:
        raise ForeignUnit(path, f"made by run {stored}")
    missing = [f for f in fields if f not in data]
    if missing:
        raise DamagedUnit(path, f"lacks the field(s) {missing}")
    try:
        reason = check(data) if check is not None else None
    except Exception as err:  # noqa: BLE001  (a field of the wrong type or shape)
        reason = f"{type(err).__name__}: {err}"
    if reason:
        raise DamagedUnit(path, reason)
    return data


def set_aside(path, reason):
    """Rename a damaged unit to ``NAME.damaged`` (``.damaged-1``, ... if taken), with a
    RuntimeWarning naming it; returns the new path. Nothing is deleted."""
    path = pathlib.Path(path)
    target, i = path.with_name(path.name + ".damaged"), 0
    while target.exists():
        i += 1
        target = path.with_name(f"{path.name}.damaged-{i}")
    path.rename(target)
    warnings.warn(
        f"{path} is damaged ({reason}): set aside as {target.name}, it is computed again",
        RuntimeWarning,
        stacklevel=3,
    )
    return target


# --------------------------------------------------------------------------- schedule
def run_shared(name, rid, make_plan, work, expect=None):
    """The schedule of a stored run, the same on every process.

    1. process 0: ``make_plan()`` (e.g. :func:`prepare`, then what is missing), a JSON
       value, received by every process with process 0's run id;
    2. every process: ``work(plan, layout)`` computes its share (e.g. :func:`share`)
       and writes its units; an exception there is published, so the others stop;
    3. a barrier, then (several processes) a wait until the files ``expect(plan)``,
       written by the others, are visible.

    A process started with other parameters than process 0 (another run id) raises
    ValueError. Returns the plan.
    """
    where = layout()
    out = broadcast(lambda: {RUN_ID: rid, "plan": make_plan()}, f"{name} plan")
    with abort_on_error():
        if out[RUN_ID] != rid:
            raise ValueError(
                f"process {where.index} was started with other parameters "
                f"than process 0 (run {rid}, process 0: {out[RUN_ID]}): "
                f"start every process with the same arguments"
            )
        work(out["plan"], where)
    barrier(f"{name} done")
    if where.count > 1 and expect is not None:
        await_files(expect(out["plan"]))
    return out["plan"]


def versions() -> dict:
    """The package versions a manifest records."""
    from ._version import __version__

    return {"jaxmf_version": __version__, "jax_version": jax.__version__}
