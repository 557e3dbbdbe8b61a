"""f_aval(W) over a grid of W: one :class:`TailRow` per (W, g0), resumable and shared.

:func:`f_aval_tail` runs :func:`~jaxmf.analysis.rare.estimate.subset_estimate` at every
W of a grid with keys that depend on (key, W, replica) alone. With a folder every
(W, replica) is a file of the run layer (:mod:`jaxmf._runs`): a run resumes from them,
refuses another run's files, and is shared out over ``jax.distributed`` processes.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from ... import _runs
from ..._checks import check_int, check_nonnegative
from ..._io import write_json
from ...models import as_model, square
from ...resonance import check_dist
from .diagnostics import calm_profile
from .estimate import (
    MAX_LEVELS,
    THIN,
    _check_couplings,
    _combine,
    _replica,
    reliable,
    subset_estimate,
)
from .moves import proposal

__all__ = ["TailRow", "f_aval_tail"]


class TailRow(NamedTuple):
    """One (W, g0) point of :func:`f_aval_tail`; plain Python values (``_asdict()`` is
    ready for JSON).

    Attributes:
        W, R, g0: disorder, lattice radius, grain coupling.
        f, stderr: replica mean and its standard error.
        reliable: :func:`~jaxmf.analysis.rare.estimate.reliable` of the replicas.
        replicas: the replica estimates.
        floor, levels, acceptance, distinct, n_evals, unconverged, last_threshold:
            as in :class:`~jaxmf.analysis.rare.estimate.SubsetEstimate` (per W,
            shared by every g0).
        n, n_replicas: samples per level and number of replicas.
        calm_rms_rel: :func:`~jaxmf.analysis.rare.diagnostics.calm_profile` rms of the
            last populations relative to the iid values W / sqrt 3 (V_0) and
            W sqrt(2/3) (V_n - V_0), shells d = 0..4.
        resonant, resonant_iid: sites 1 <= d <= 4 with |V_n - V_0| < 1, 3, 10, and their
            iid expectation.
        seconds: wall time of the W point (with a folder: summed over its replicas).
        method, moves, thin: "subset", the move set and the thinning.
        families: effective number of ancestral families of each replica's avalanching
            states (as in :class:`~jaxmf.analysis.rare.estimate.SubsetEstimate`).
    """

    W: float
    R: int
    g0: float
    f: float
    reliable: bool
    stderr: float
    replicas: list
    floor: float
    levels: list
    acceptance: list
    distinct: list
    n: int
    n_replicas: int
    n_evals: int
    unconverged: int
    last_threshold: list
    calm_rms_rel: list
    resonant: list
    resonant_iid: list
    seconds: float
    method: str
    moves: str
    thin: int
    families: list | None = None


def f_aval_tail(
    model,
    Ws,
    *,
    key,
    g0=(1.0, 0.5),
    n=500,
    replicas=4,
    p0=0.1,
    max_levels=MAX_LEVELS,
    moves="lattice",
    thin=THIN,
    dist="goe",
    method="auto",
    progress=False,
    callback: Callable[[TailRow], None] | None = None,
    folder=None,
) -> list[TailRow]:
    """f_aval(W) for several g0 by
    :func:`~jaxmf.analysis.rare.estimate.subset_estimate`, one run per W.

    The run at W uses the key ``fold_in(key, round(1000 W))`` and its replica r the key
    ``fold_in(that key, r)``: every (W, replica) is a deterministic function of (key,
    W, r) alone, so the grid can be split across calls or processes with the same rows.

    With ``folder`` each (W, replica) is stored as ``folder/W{W}_r{r}.npz`` once done
    (the run resumes from them: only missing ones are computed, also for a longer W
    list or more replicas), and the pooled rows are written to ``folder/rows.json``.
    Every replica file records the run id of its run (a hash of every argument except
    Ws and replicas): a folder of another run, or replica files of one, are refused;
    a damaged replica file is named, set aside as ``NAME.damaged`` and computed again.
    Under ``jax.distributed`` (the run layer, :mod:`jaxmf._runs`) every process makes
    this same call with the same shared ``folder``; the missing (W, replica) runs are
    shared out over the processes, and after a barrier every process returns the same
    rows (process 0 writes ``rows.json`` and calls ``callback``).

    Args:
        model: a tight-binding model (an int R: the paper's lattice); rows carry its
            size label as R.
        Ws: disorder strengths > 0.
        key: JAX PRNG key.
        g0, n, replicas, p0, max_levels, moves, thin, dist, method, progress: as in
            :func:`~jaxmf.analysis.rare.estimate.subset_estimate`.
        callback: called with each :class:`TailRow` as soon as it is known (with a
            folder: when the rows are pooled, on process 0).
        folder: directory of the per-replica files (needed with several processes).

    Returns:
        list of :class:`TailRow`, one per (W, g0), W outer.
    """
    settings = dict(n=n, replicas=replicas, max_levels=max_levels, moves=moves, thin=thin)
    model = as_model(model)
    if folder is not None:
        return _shared_tail(
            folder,
            model,
            Ws,
            key,
            _check_couplings(g0),
            p0,
            dist,
            method,
            settings,
            progress,
            callback,
        )
    if _runs.layout().count > 1:
        raise ValueError(
            "several processes share a rare-event run through files: "
            "give f_aval_tail a folder on a shared filesystem"
        )
    rows = []
    for W in Ws:
        e = subset_estimate(
            model,
            float(W),
            key=_key_of(key, W),
            g0=g0,
            n=n,
            replicas=replicas,
            p0=p0,
            max_levels=max_levels,
            moves=moves,
            thin=thin,
            dist=dist,
            method=method,
            progress=progress,
        )
        rows += _emit(_rows(model, W, e, settings), callback)
        if progress:
            _say(model.label, W, e)
    return rows


def _key_of(key, W):
    return jax.random.fold_in(key, int(round(1000 * W)))


def _rows(model, W, e, settings):
    prof = calm_profile(e.conditional_V, model)
    ref = np.array([W / np.sqrt(3.0)] + [W * np.sqrt(2.0 / 3.0)] * (len(prof.rms) - 1))
    rows = []
    for j, g in enumerate(e.g0):
        rep = e.replicas[:, j]
        rows.append(
            TailRow(
                W=float(W),
                R=model.label,
                g0=float(g),
                f=float(e.f[j]),
                reliable=reliable(rep, e.levels, settings["max_levels"]),
                stderr=float(e.stderr[j]),
                replicas=rep.tolist(),
                floor=e.floor,
                levels=e.levels.tolist(),
                acceptance=e.acceptance.tolist(),
                distinct=e.distinct.tolist(),
                n=settings["n"],
                n_replicas=settings["replicas"],
                n_evals=e.n_evals,
                unconverged=e.unconverged,
                last_threshold=e.last_threshold.tolist(),
                calm_rms_rel=(prof.rms / ref).tolist(),
                resonant=prof.resonant.tolist(),
                resonant_iid=prof.resonant_iid.tolist(),
                seconds=e.seconds,
                method="subset",
                moves=settings["moves"],
                thin=settings["thin"],
                families=e.families[:, j].tolist() if e.families is not None else None,
            )
        )
    return rows


def _emit(rows, callback):
    for row in rows if callback is not None else ():
        callback(row)  # pyright: ignore[reportOptionalCall]  (not None: rows iterated)
    return rows


def _say(R, W, e):
    print(
        f"R={R} W={W:g}: "
        + ", ".join(f"f(g0={g:g}) = {f:.3e} +- {s:.1e}" for g, f, s in zip(e.g0, e.f, e.stderr))
        + f" ({e.seconds:.0f} s, {e.n_evals} lattices)",
        flush=True,
    )


_PARTS_FORMAT = "jaxmf-rare-replicas"
_PART_NAME = re.compile(r"W(.+)_r(\d+)\.npz")


def _part(root, W, r):
    return root / f"W{float(W)!r}_r{r}.npz"


def _parts(root):
    """((W, replica), path) of the replica files in ``root``."""
    found = []
    for p in sorted(root.iterdir()):
        m = _PART_NAME.fullmatch(p.name)
        if m:
            try:
                found.append(((float(m[1]), int(m[2])), p))
            except ValueError:
                continue
    return found


def _read_part(key, path, rid, legacy=False):
    W, r = key

    def check(z):
        if "W" in z and (float(z["W"]) != W or int(z["replica"]) != r):
            return "its W or replica does not match its name"
        return None

    return _runs.read_unit(
        path,
        rid,
        legacy=legacy,
        check=check,
        fields=(
            "estimate",
            "levels",
            "acceptance",
            "distinct",
            "conditional",
            "last",
            "n_evals",
            "unconverged",
            "floor",
            "seconds",
        ),
    )


def _shared_tail(folder, model, Ws, key, g0, p0, dist, method, settings, progress, callback):
    """:func:`f_aval_tail` through per-(W, replica) files in ``folder``, shared out over
    the processes (the run layer, :mod:`jaxmf._runs`); see there."""
    for W in Ws:
        check_nonnegative("W", W, strictly_positive=True, finite=True)
    check_int("replicas", settings["replicas"], 1)
    check_dist(dist)
    propose = proposal(model, settings["moves"])
    root = pathlib.Path(folder)
    # issubdtype is public API of jax.dtypes; pyright misreads its re-export
    typed = jax.dtypes.issubdtype(  # pyright: ignore[reportPrivateImportUsage]
        key.dtype, jax.dtypes.prng_key
    )
    params = {
        "R": model.label,
        "g0": g0.tolist(),
        "p0": p0,
        "dist": dist,
        "method": method,
        "key": np.asarray(jax.random.key_data(key) if typed else key).tolist(),
        **{k: v for k, v in settings.items() if k != "replicas"},
    }
    if model.R is None or model.spec() != square(model.R).spec():
        # (left out for the paper's lattice: the run id of runs stored before models)
        params["model"] = model.spec()
    rid = _runs.run_id(params)
    wanted = [(float(W), r) for W in Ws for r in range(settings["replicas"])]

    def plan():  # process 0: the folder checked (or started), then the missing runs
        have = set(
            _runs.prepare(
                root,
                fmt=_PARTS_FORMAT,
                spec=params,
                read=_read_part,
                units=lambda: _parts(root),
                manifest={
                    "format": _PARTS_FORMAT,
                    "parameters": params,
                    "layout": "W{W}_r{replica}.npz: one subset-simulation replica, key "
                    "fold_in(fold_in(key, round(1000 W)), replica)",
                    **_runs.versions(),
                },
            )
        )
        return [[W, r] for W, r in wanted if (W, r) not in have]

    def work(todo, where):
        for W, r in _runs.share(todo, where):
            part = _replica(
                model,
                W,
                jax.random.fold_in(_key_of(key, W), r),
                g0,
                n=settings["n"],
                p0=p0,
                max_levels=settings["max_levels"],
                propose=propose,
                thin=settings["thin"],
                chunk=None,
                dist=dist,
                method=method,
                bracket=(-20.0, 20.0),
                n_bisect=20,
                progress=r if progress else None,
            )
            _runs.write_unit(
                _part(root, W, r), {**part, "W": np.float64(W), "replica": np.int64(r)}, rid
            )

    _runs.run_shared(
        "rare", rid, plan, work, expect=lambda todo: [_part(root, W, r) for W, r in todo]
    )
    manifest = _runs.read_manifest(root, _PARTS_FORMAT)
    if manifest is None:
        raise RuntimeError(f"no manifest in {root} after the run")
    legacy = _runs.RUN_ID not in manifest
    rows, main = [], _runs.is_main()
    for W in Ws:
        parts = [
            _read_part((float(W), r), _part(root, W, r), rid, legacy)
            for r in range(settings["replicas"])
        ]
        e = _combine(g0, float(W), parts, float(sum(p["seconds"] for p in parts)))
        rows += _emit(_rows(model, float(W), e, settings), callback if main else None)
        if progress and main:
            _say(model.label, W, e)
    if main:
        write_json(
            root / "rows.json",
            {
                "parameters": {
                    **params,
                    "W": [float(W) for W in Ws],
                    "replicas": settings["replicas"],
                },
                "rows": rows,
            },
        )
    return rows
