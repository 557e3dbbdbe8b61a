"""f_aval(W) of random lattices by subset simulation, and by plain sampling for checks.

For an iid random potential (V_n uniform on [-W, W]) the avalanche probability f_aval
(eq. 19) stays non-zero at every W: a rare calm neighbourhood of the grain lets the
avalanche start. :func:`subset_estimate` reaches f_aval down to ~1e-13 by subset
simulation (:mod:`~jaxmf.analysis.rare.subset`) on the critical grain coupling log g0_c
(:mod:`~jaxmf.analysis.rare.critical`), with the moves of
:mod:`~jaxmf.analysis.rare.moves`; independent replicas give the error bar.
:func:`f_aval_tail` runs it over a W grid (one :class:`TailRow` per (W, g0)), and
:func:`reliable` says which rows are trusted. :func:`plain_estimate` is plain Monte Carlo
from an independent sampler (the model's own ``couplings(W, g0, RandomKey(key))``) for
checks. Every function takes a tight-binding model (an int R: the paper's lattice).

One module for one concept, the estimate of f_aval: the W-grid tail run reuses the
replica and pooling functions of a single estimate, so it stays beside them; the
generic sampler, score, moves and replica statistics are their own modules.
"""

from __future__ import annotations

import pathlib
import re
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from ... import _runs
from ..._checks import check_int, check_nonnegative
from ..._io import write_json
from ...meanfield import avalanches, solve
from ...models import RandomKey, as_model, square
from ...resonance import check_dist
from . import subset
from .critical import gaussian_scorer
from .diagnostics import calm_profile
from .moves import proposal

__all__ = [
    "THIN",
    "MAX_LEVELS",
    "SubsetEstimate",
    "subset_estimate",
    "PlainEstimate",
    "plain_estimate",
    "TailRow",
    "f_aval_tail",
    "reliable",
]

THIN = 5
"""Markov steps per recorded state: decorrelates each level from its seeds."""

MAX_LEVELS = 14
"""Default level limit of subset simulation (resolves f down to ~0.1^14 / n)."""


class SubsetEstimate(NamedTuple):
    """Subset-simulation estimate of f_aval(W, g0) = P(log g0_c < log g0), several g0.

    Attributes:
        g0: (G,) grain couplings.
        f: (G,) mean of the replica estimates.
        stderr: (G,) standard error from the replica spread, std / sqrt(M).
        replicas: (M, G) the independent estimates.
        floor: smallest probability the deepest level resolves, p0^L / n (per replica,
            min over replicas); an estimate 0 means f < floor.
        levels: (M,) conditional levels used by each replica.
        acceptance: (M,) mean Metropolis acceptance over the levels.
        distinct: (M,) smallest fraction of distinct states in a population (a chain
            that never moves repeats its seed; near 0 means the sampler is stuck).
        n_evals: score evaluations (lattice spectra + bisections), all replicas.
        unconverged: solver non-convergences met along the bisections.
        conditional_V: (M n, N) potentials of the last populations, distributed as p(V)
            conditional on log g0_c <= (last threshold) -- what an avalanche needs.
        last_threshold: (M,) the last threshold b_L of each replica (log g0 units).
        seconds: wall time.
    """

    g0: np.ndarray
    f: np.ndarray
    stderr: np.ndarray
    replicas: np.ndarray
    floor: float
    levels: np.ndarray
    acceptance: np.ndarray
    distinct: np.ndarray
    n_evals: int
    unconverged: int
    conditional_V: np.ndarray
    last_threshold: np.ndarray
    seconds: float


def _check_couplings(g0):
    g0 = np.atleast_1d(np.asarray(g0, float))
    if g0.size == 0:
        raise ValueError("g0 must hold at least one grain coupling > 0")
    check_nonnegative("g0", g0, strictly_positive=True, finite=True)
    return g0


def subset_estimate(
    model,
    W,
    *,
    key,
    g0=(1.0,),
    n=500,
    replicas=4,
    p0=0.1,
    max_levels=MAX_LEVELS,
    moves="lattice",
    dist="goe",
    method="auto",
    chunk=None,
    n_bisect=20,
    bracket=(-20.0, 20.0),
    thin=THIN,
    progress=False,
) -> SubsetEstimate:
    """f_aval(W, R, g0) of random lattices down to ~1e-13 by subset simulation.

    Reaction coordinate: the critical grain coupling log g0_c(V)
    (:func:`~jaxmf.analysis.rare.critical.critical_log_g0`), a continuous score that
    orders every potential by how close it is to avalanching. Subset simulation
    (:func:`~jaxmf.analysis.rare.subset.run`) in Gaussian variables z for all N sites,
    V_n = W (2 Phi(z_n) - 1), lowers the threshold on log g0_c level by level (p0 per
    level) until it passes log min(g0); every g0 in ``g0`` is read off the same run.
    Replica r uses the key ``fold_in(key, r)``; the ``replicas`` independent runs give
    the error bar (their spread; it includes the correlation of the Markov chains and
    the O(1/n) bias of each run).

    Args:
        model: a tight-binding model (an int R: the paper's lattice).
        W: disorder strength > 0.
        key: JAX PRNG key (the estimate is a deterministic function of it).
        g0: grain couplings (> 0) to report.
        n: samples per level and replica (n p0 and 1 / p0 integers).
        replicas: independent runs (>= 2 for an error bar).
        p0: conditional probability per level.
        max_levels: level limit (resolves f down to ~p0^max_levels / n).
        moves: "lattice" (:func:`~jaxmf.analysis.rare.moves.lattice_moves`, default),
            "pcn" (isotropic pCN only; it gets stuck below ~1e-7 at R = 10),
            "resonance" (lattice moves mixed 50/50 with
            :func:`~jaxmf.analysis.rare.moves.resonance_moves`), "resonance-pcn" (pCN
            mixed 50/50 with them) or "cluster" (lattice, resonance and
            :func:`~jaxmf.analysis.rare.moves.cluster_moves` in thirds).
        dist, method: ptilde family and spectral route.
        chunk: lattices per compiled batch (default n p0).
        n_bisect, bracket: resolution and range of log g0_c.
        thin: Markov steps per recorded state (cost x thin). With thin = 1 the chains
            barely leave their seeds at f < 1e-3 (R = 10) and the populations coalesce
            to a few ancestors within 3-4 levels: replicas then scatter over decades
            (docs/rare_avalanches.md).
        progress: print one line per level.

    Returns:
        :class:`SubsetEstimate`.
    """
    model = as_model(model)
    check_nonnegative("W", W, strictly_positive=True, finite=True)
    g0 = _check_couplings(g0)
    check_int("replicas", replicas, 1)
    check_dist(dist)
    propose = proposal(model, moves)
    t0 = time.time()
    parts = [
        _replica(
            model,
            W,
            jax.random.fold_in(key, r),
            g0,
            n=n,
            p0=p0,
            max_levels=max_levels,
            propose=propose,
            thin=thin,
            chunk=chunk,
            dist=dist,
            method=method,
            bracket=bracket,
            n_bisect=n_bisect,
            progress=r if progress else None,
        )
        for r in range(replicas)
    ]
    return _combine(g0, W, parts, time.time() - t0)


def _replica(
    model,
    W,
    key,
    g0,
    *,
    n,
    p0,
    max_levels,
    propose,
    thin,
    chunk,
    dist,
    method,
    bracket,
    n_bisect,
    progress,
):
    """One subset-simulation replica (key = the replica's key) as a dict of arrays:
    estimate (G,), levels, acceptance, distinct, conditional (n, N) potentials / W,
    last threshold, n_evals, unconverged, floor, seconds. ``progress``: None, or the
    replica index to print per level."""
    t0 = time.time()
    model = as_model(model)
    score_fn = gaussian_scorer(model, dist=dist, method=method, bracket=bracket, n_bisect=n_bisect)
    bad = [0]

    def score(z):
        lam, ok = score_fn(jnp.asarray(z), jnp.float64(W))
        bad[0] += int(np.sum(~np.asarray(ok)))
        return np.asarray(lam)

    cb = None  # pyright: ignore[reportAssignmentType]  (cb: None or the def below)
    if progress is not None:

        def cb(level, b):
            print(
                f"  R={model.label} W={W:g} replica {progress}: level {level}, log g0_c <= {b:.4f}",
                flush=True,
            )

    run = subset.run(
        score,
        model.N,
        key=key,
        n=n,
        p0=p0,
        stop=float(np.log(g0.min())),
        max_levels=max_levels,
        propose=propose,
        thin=thin,
        chunk=chunk or max(1, int(round(n * p0))),
        progress=cb,
    )
    # avalanche iff log g0 > log g0_c; P(log g0_c = log g0) = 0
    return {
        "estimate": np.asarray(subset.tail_probability(run, np.log(g0)).probability),
        "levels": len(run.thresholds),
        "acceptance": float(np.nanmean(run.acceptance)) if len(run.acceptance) else np.nan,
        "distinct": float(np.min(run.distinct)) if len(run.distinct) else 1.0,
        "conditional": np.asarray(
            model.potential_from_uniform(  # pyright: ignore[reportAttributeAccessIssue]
                scipy.special.ndtr(run.samples), 1.0
            )
        ),
        "last": run.thresholds[-1] if len(run.thresholds) else np.inf,
        "n_evals": int(run.n_evals),
        "unconverged": int(bad[0]),
        "floor": p0 ** len(run.thresholds) / n,
        "seconds": time.time() - t0,
    }


def _combine(g0, W, parts, seconds) -> SubsetEstimate:
    """The :class:`SubsetEstimate` of replicas given as :func:`_replica` dicts."""
    rep = np.asarray([p["estimate"] for p in parts])
    M = len(parts)
    se = rep.std(axis=0, ddof=1) / np.sqrt(M) if M > 1 else np.full(g0.size, np.inf)
    get = lambda k: np.asarray([p[k] for p in parts])  # noqa: E731
    return SubsetEstimate(
        g0,
        rep.mean(axis=0),
        se,
        rep,
        float(get("floor").min()),
        get("levels"),
        get("acceptance"),
        get("distinct"),
        int(get("n_evals").sum()),
        int(get("unconverged").sum()),
        W * np.concatenate([p["conditional"] for p in parts]),
        get("last"),
        seconds,
    )


class PlainEstimate(NamedTuple):
    """Plain Monte Carlo estimate of f_aval (:func:`plain_estimate`).

    Attributes:
        f: fraction of avalanching draws.
        stderr: binomial standard error sqrt(f (1 - f) / n) (at least 1 / n^1.5).
        hits: number of avalanching draws.
    """

    f: float
    stderr: float
    hits: int


def plain_estimate(
    model, W, *, key, g0=1.0, n=1000, dist="goe", method="auto", chunk=128
) -> PlainEstimate:
    """Plain Monte Carlo f_aval from the model's random draws (``RandomKey``).

    Independent of the subset-simulation sampler (a different sampler of the same law,
    the avalanche flag of :func:`jaxmf.meanfield.avalanches` instead of log g0_c); for
    checks.

    Args:
        model: a model with random realizations (an int R: the paper's lattice).
        W: disorder strength >= 0.
        key: JAX PRNG key (``split(key, n)`` gives the draws).
        g0: grain coupling scale >= 0.
        n: number of draws.
        dist, method: ptilde family and spectral route.
        chunk: draws per compiled batch.

    Returns:
        :class:`PlainEstimate`.
    """
    model = as_model(model)
    check_nonnegative("W", W, finite=True)
    check_int("n", n, 1)
    check_int("chunk", chunk, 1)
    check_dist(dist)
    check_nonnegative("g0", g0, finite=True)
    f = jax.jit(jax.vmap(lambda k: model.couplings(W, g0, RandomKey(k), method=method)))
    keys = jax.random.split(key, n)
    hits = 0
    for i in range(0, n, chunk):
        hits += int(np.sum(np.asarray(avalanches(solve(f(keys[i : i + chunk]), dist)))))
    p = hits / n
    return PlainEstimate(p, float(np.sqrt(max(p * (1 - p), 1.0 / n**2) / n)), hits)


def reliable(replicas, levels, max_levels=MAX_LEVELS) -> bool:
    """Whether a subset-simulation estimate is trusted: at least 3 replicas, every one
    reached the event (f > 0, none stopped at the level limit), the replica standard
    error is below half the mean and the replicas lie within a factor 30 of each other.
    Deeper in the tail the replica estimates scatter over orders of magnitude (different
    runs find different resonant configurations); such a mean is an order-of-magnitude
    indication at best, and its replica error is not a trustworthy error bar."""
    r = np.asarray(replicas, float)
    if r.size < 3 or np.any(r <= 0) or np.max(levels) >= max_levels:
        return False
    return bool(r.std(ddof=1) / np.sqrt(r.size) < 0.5 * r.mean() and r.max() < 30 * r.min())


class TailRow(NamedTuple):
    """One (W, g0) point of :func:`f_aval_tail`; plain Python values (``_asdict()`` is
    ready for JSON).

    Attributes:
        W, R, g0: disorder, lattice radius, grain coupling.
        f, stderr: replica mean and its standard error.
        reliable: :func:`reliable` of the replicas.
        replicas: the replica estimates.
        floor, levels, acceptance, distinct, n_evals, unconverged, last_threshold:
            as in :class:`SubsetEstimate` (per W, shared by every g0).
        n, n_replicas: samples per level and number of replicas.
        calm_rms_rel: :func:`~jaxmf.analysis.rare.diagnostics.calm_profile` rms of the
            last populations relative to the iid values W / sqrt 3 (V_0) and
            W sqrt(2/3) (V_n - V_0), shells d = 0..4.
        resonant, resonant_iid: sites 1 <= d <= 4 with |V_n - V_0| < 1, 3, 10, and their
            iid expectation.
        seconds: wall time of the W point (with a folder: summed over its replicas).
        method, moves, thin: "subset", the move set and the thinning.
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
    """f_aval(W) for several g0 by :func:`subset_estimate`, one run per W.

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
            :func:`subset_estimate`.
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
