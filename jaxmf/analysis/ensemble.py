"""Ensemble sweeps of a model: W x R x (theta0 grid | random draws), resumable.

A sweep solves the mean-field equations (eq. 11/13) for every realization of a model
(:mod:`jaxmf.models.contract`; by default the paper's 2D lattice, Sec. VII, eq. 15-18)
on a grid of potential strengths W and sizes R (a model family R -> model, or one
model, labelled by its size label), and stores per realization

    eta_tot     total entropic enhancement (eq. 14)
    avalanche   eta_tot > N log 2 / 2 (eq. 19)
    converged   the solver's convergence flag (False: do not use the values)
    iterations  solver steps
    n_thermal   n* = sum_n [S_n] / log 2, the thermalized count
                (:func:`jaxmf.meanfield.n_thermal`)
    stability   1 - dG/dH at the solution (-> 0 at an avalanche threshold)

Realizations. QP (``kind="qp"``): a theta0 grid, by default ``theta_grid(n_draws)`` =
2 pi j / n_draws, or any explicit array. Random (``kind="random"``): draw i at radius
R uses the key ``draw_key(seed, R, i)`` = fold_in(fold_in(key(seed), R), i). The
key does not depend on W: draw i is the same angle configuration theta_n at every W
(common random numbers, as the theta0 grid is for QP), so f_aval(W) is compared on
one fixed set of samples. Keys and theta0 depend only on (seed, R, i), never on the
chunking, the device count or on resuming, so a sweep gives the same numbers (to
round-off, ~1e-13 relative: XLA vectorizes differently for different batch shapes)
however it is run.

Execution. For each (R, W) the realizations are processed in chunks of ``chunk_size``
(default from N and the device, :func:`default_chunk_size`); each chunk is one jitted
call in which the realization axis is split over the local devices by ``shard_map``
(:func:`chunk_devices`: all of them, except for the fast host route of
:mod:`jaxmf.models.spectral` on the CPU backend, which runs on one device per process).
A tqdm progress bar counts realizations.

Storage (a directory, numpy + JSON only)::

    PATH/manifest.json                    parameters (model specs, dist, g0, kind,
                                          method, seed or theta0 grid), run id,
                                          jaxmf/jax versions, format
    PATH/chunks/R{R}_W{iW}_{a}-{b}.npz    one completed chunk: draws a..b-1 of W[iW]

Every chunk file also carries its own W, R, draw indices (and theta0 for QP) and the
run id of the sweep that made it (a hash of every parameter except ``method``). Files
are written to a temporary name and renamed (``os.replace``), so a chunk is either
absent or complete; an interrupted sweep resumes by computing only the draws not yet on
disk (the chunk size may change on resume). Resuming checks the folder first
(:mod:`jaxmf._runs`): other parameters than the manifest's, or chunks of another run
(say the manifest was deleted and the folder reused with another seed), are refused,
never mixed in; a damaged chunk (truncated, empty, garbage) is named, set aside as
``NAME.damaged`` and computed again. :func:`load` returns everything as arrays of shape
(n_W, n_R, n_draws) with a ``complete`` mask.

Several processes (``jax.distributed``, coordinated by :mod:`jaxmf._processes`).
Started with ``jax.distributed.initialize`` and all given the same arguments and
``path`` (on a filesystem every process sees), ``sweep`` is shared out: process 0
checks the folder, writes the manifest and lists what is missing on disk (the plan:
chunk boundaries as a one-process run would draw them), every process
receives that plan and computes the chunks k = index mod P of it over its own local
devices, writing its own chunk files; a barrier, then every process returns
``load(path)``. The numbers are those of a one-process run with the same local device
count, bit for bit (the same chunks, keys and batch shapes). If any process dies, the
others stop (at the barrier, or ended by the coordination service's heartbeat);
rerunning the same call, with any process count, computes only the missing chunks.

One module for one concept, the sweep: its grid, chunk function, loader and the
averages/brackets read off a loaded sweep share one result layout; storage, resume and
process shares live in the run layer (jaxmf._runs, analysis._sweep_files).
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from .. import _runs
from .._checks import LOG2
from ..meanfield import avalanche_flag, n_thermal, solve
from ..models import QPPhase, RandomKey
from ..models.registry import models_for
from ..models.spectral import resolve_method
from ._sweep_files import (
    FIELD_DTYPES,
    FIELDS,
    FILL,
    FORMAT,
    chunk_path,
    make_spec,
    missing_ranges,
    prepare,
    spec_from_dict,
    stored_chunks,
    theta_grid,
    write_chunk,
)

__all__ = [
    "FIELDS",
    "FORMAT",
    "SweepResult",
    "theta_grid",
    "draw_key",
    "default_chunk_size",
    "chunk_devices",
    "sweep",
    "load",
    "EnsembleAverage",
    "ensemble_average",
    "ThresholdBracket",
    "threshold_bracket",
]


# --------------------------------------------------------------------------- realizations
def draw_key(seed, R, i):
    """PRNG key of random draw i at radius R: fold_in(fold_in(key(seed), R), i).

    Jittable in ``seed`` and ``i`` (R is a static int); independent of W.
    """
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), R), i)


def default_chunk_size(N, n_devices=1, backend=None, method="auto", bandwidth=None):
    """Realizations per chunk for N sites, a multiple of ``n_devices``.

    CPU: ~2^16 / N per device (a few seconds of work per chunk on the fast path, so the
    progress bar and the resume granularity stay fine; N = 221 -> 296, N = 5101 -> 12).
    Accelerators: half of the device memory (or 8 GiB if unknown) is budgeted, at most
    1024 per device: ~4 N^2 doubles per realization for the dense eigensolver, or, when
    ``method`` resolves to the device band route and the half-bandwidth is given,
    48 N (bandwidth + 1) doubles (its band storage and work arrays: XLA measured 12-36
    N kd doubles, bench_spectral).
    """
    backend = backend or jax.default_backend()
    if backend == "cpu":
        per_device = max(1, min(1024, 2**16 // N))
    else:
        try:
            limit = jax.local_devices()[0].memory_stats()["bytes_limit"]
        except Exception:  # noqa: BLE001  (no memory_stats on this backend)
            limit = 8 * 2**30
        per_realization = 4 * 8 * N * N
        if bandwidth is not None and resolve_method(method, N, bandwidth, backend) == "device":
            per_realization = 48 * 8 * N * (bandwidth + 1)
        per_device = int(max(1, min(1024, 0.5 * limit // per_realization)))
    return per_device * n_devices


# --------------------------------------------------------------------------- computation
def chunk_devices(method, N):
    """Local devices one chunk of N-site models is sharded over.

    All of ``jax.local_devices()``, except on the CPU backend when the spectral route is
    the host one ("fast"): there a chunk runs on one device. JAX stages the operands of
    a ``pure_callback`` on CPU device 0 and waits for that copy inside the callback;
    with several emulated CPU devices calling back at once, the XLA worker threads that
    would complete the copy are the ones waiting, and the call can deadlock. On CPU,
    run several processes instead (``jax.distributed``, see :func:`sweep`).
    """
    if jax.default_backend() == "cpu" and resolve_method(method, N) == "fast":
        return 1
    return len(jax.local_devices())


@functools.cache
def _chunk_function(model, kind, dist, method, rtol, max_steps, n_devices):
    """Jitted (W, g0, seed, x[chunk]) -> dict of per-realization fields, sharded; x holds
    theta0 (QP) or draw indices (random: keys ``draw_key(seed, model.label, i)``)."""
    mesh = Mesh(np.array(jax.local_devices()[:n_devices]), ("draws",))
    label = model.label

    def realization(seed, x):
        return QPPhase(x) if kind == "qp" else RandomKey(draw_key(seed, label, x))

    def local(W, g0, seed, x):
        g = jax.vmap(lambda xi: model.couplings(W, g0, realization(seed, xi), method=method))(x)
        res = solve(g, dist, rtol=rtol, max_steps=max_steps)
        # every site is an l-bit, also one whose coupling underflowed to 0 (huge W)
        return {
            "eta_tot": res.eta_tot,
            "avalanche": avalanche_flag(res.eta_tot, g.shape[-1]),
            "converged": res.converged,
            "iterations": res.iterations.astype(jnp.int32),
            "n_thermal": n_thermal(res, dist),
            "stability": res.stability,
        }

    rep, shard = PartitionSpec(), PartitionSpec("draws")
    # check_vma=False: the solver's while_loop carries start replicated (zeros) and
    # become per-shard; every output is per-realization, so no check is needed
    return jax.jit(
        jax.shard_map(
            local, mesh=mesh, in_specs=(rep, rep, rep, shard), out_specs=shard, check_vma=False
        )
    )


def _compute_chunk(spec, model, W, start, stop, chunk_size):
    n_devices = chunk_devices(spec.method, model.N)
    idx = np.arange(start, stop)
    # pad every chunk to the full chunk size (one compilation per R), a multiple of the
    # local device count
    size = -(-chunk_size // n_devices) * n_devices
    padded = np.concatenate([idx, np.full(size - len(idx), idx[-1])])
    x = np.asarray(spec.theta0)[padded] if spec.kind == "qp" else padded.astype(np.int64)
    fn = _chunk_function(
        model, spec.kind, spec.dist, spec.method, spec.rtol, spec.max_steps, n_devices
    )
    out = fn(jnp.float64(W), jnp.float64(spec.g0), jnp.int64(spec.seed or 0), jnp.asarray(x))
    return {f: np.asarray(out[f])[: len(idx)].astype(FIELD_DTYPES[f]) for f in FIELDS}


# --------------------------------------------------------------------------- runner
def _plan(spec, files, chunk_size, models):
    """What is still to compute, as JSON-able lists: ``sizes`` [[R, chunk size], ...]
    and ``missing`` [[R, iW, [[a, b], ...]], ...] (draw ranges not in ``files``, the
    usable chunk files {(R, iW): [(a, b, path), ...]})."""
    sizes, missing = [], []
    for R_ in spec.R:
        n_devices = chunk_devices(spec.method, models[R_].N)
        kd = getattr(models[R_], "bandwidth", None)  # band models only
        size = chunk_size or default_chunk_size(
            models[R_].N, n_devices, method=spec.method, bandwidth=kd
        )
        # no chunk larger than the sweep (chunks are padded to their full size)
        size = min(int(size), spec.n_draws)
        sizes.append([R_, -(-size // n_devices) * n_devices])
        for iW in range(len(spec.W)):
            missing.append(
                [R_, iW, [list(r) for r in missing_ranges(files.get((R_, iW), []), spec.n_draws)]]
            )
    return {"sizes": sizes, "missing": missing}


def _tasks(spec, plan):
    """The chunks of a plan, in (R, W, draw) order, as (R, iW, W, start, stop, size), and
    the number of realizations already on disk."""
    sizes = dict((R_, size) for R_, size in plan["sizes"])
    tasks, done_count = [], 0
    for R_, iW, ranges in plan["missing"]:
        done_count += spec.n_draws - sum(b - a for a, b in ranges)
        for a, b in ranges:
            for start in range(a, b, sizes[R_]):
                tasks.append((R_, iW, spec.W[iW], start, min(start + sizes[R_], b), sizes[R_]))
    return tasks, done_count


def sweep(
    path,
    *,
    kind,
    W,
    R=None,
    model=None,
    g0=1.0,
    dist="goe",
    theta0=None,
    n_draws=None,
    seed=None,
    method="auto",
    chunk_size=None,
    progress=True,
    max_chunks=None,
    rtol=1e-13,
    max_steps=400,
    on_chunk: Callable | None = None,
) -> SweepResult:
    """Run (or resume) a sweep over W x R x realizations; results go to ``path``.

    ``sweep(path, kind="qp", R=[5, 10], W=...)`` sweeps the paper's lattice;
    ``model=chain1d`` (a family R -> model) any other, ``model=my_model`` (one model,
    no R) a single one.

    Under ``jax.distributed`` every process makes this same call (same arguments, same
    ``path`` on a shared filesystem) and computes a disjoint share of the chunks (module
    docstring); the result is the same as a one-process run.

    Args:
        path: directory for the manifest and chunk files (created if absent). If it
            already holds a sweep with the same parameters, only the missing draws are
            computed; other parameters, or chunk files of another sweep, raise
            ValueError; damaged chunk files are set aside and computed again.
        kind: ``"qp"`` or ``"random"`` (a kind the model supports).
        R: size(s) (lattice radii; non-negative ints), required with a family; with a
            single model, None (its size label ``model.label`` is used).
        model: a model family R -> model, one model (:mod:`jaxmf.models.contract`), or
            None for the paper's 2D lattice (:func:`jaxmf.models.square`). Its spec is
            stored, so a resume with another model raises.
        W: potential strength or list of them (>= 0).
        g0: grain coupling scale (eq. 18).
        dist: ptilde family for eta ("goe" or "poisson").
        theta0: QP phases (scalar or 1D array); default ``theta_grid(n_draws)``.
        n_draws: number of realizations per (W, R) (QP: grid size if theta0 is None).
        seed: integer seed, required for ``kind="random"``.
        method: spectral route ("auto", "eigh", "fast", "device"; see
            :mod:`jaxmf.models.spectral`); recorded, not part of the
            parameters a resumed sweep must match (the paths agree to ~1e-12).
        chunk_size: realizations per jitted call, default :func:`default_chunk_size`
            (process 0's, for every process); capped at n_draws and rounded up to a
            multiple of the local device count. A short last chunk is padded to the
            full size (one compilation per R).
        progress: show a tqdm progress bar (with several processes: one per process,
            counting its share).
        max_chunks: compute at most this many chunks in this call (per process), then
            return what is on disk (the rest can be resumed later).
        rtol, max_steps: solver settings (see :func:`jaxmf.solve`).
        on_chunk: called as ``on_chunk(R=, W=, start=, stop=, path=)`` after each
            chunk is written (e.g. for logging; an exception raised there stops the
            sweep with everything written so far kept; with several processes the
            others finish their share and then raise RuntimeError).

    Returns:
        :class:`SweepResult` of everything on disk (``load(path)``), on every process.
    """
    pairs = models_for(model, R)
    models = dict(pairs)
    for _, m in pairs:
        if kind in ("qp", "random") and kind not in m.kinds:
            raise ValueError(
                f"model {m.name!r} supports realization kinds {m.kinds}, got kind={kind!r}"
            )
    spec = make_spec(
        kind,
        [label for label, _ in pairs],
        W,
        g0,
        dist,
        theta0,
        n_draws,
        seed,
        method,
        rtol,
        max_steps,
        model={label: m.spec() for label, m in pairs},
    )
    if chunk_size is not None and (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")

    def make_plan():  # process 0: the folder checked (or started), then what is missing
        return _plan(spec, prepare(path, spec), chunk_size, models)

    def work(plan, where):
        everything, done_count = _tasks(spec, plan)
        if where.count == 1:
            tasks, desc = everything, f"sweep {spec.kind}"
            total = len(spec.R) * len(spec.W) * spec.n_draws
        else:
            tasks, done_count = _runs.share(everything, where), 0
            total = sum(t[4] - t[3] for t in tasks)
            desc = f"sweep {spec.kind} [{where.index}/{where.count}]"
        _run_tasks(
            spec, path, tasks, done_count, total, desc, progress, max_chunks, on_chunk, models
        )

    def expect(plan):  # the chunk files of every process
        return [chunk_path(path, t[0], t[1], t[3], t[4]) for t in _tasks(spec, plan)[0]]

    _runs.run_shared(
        "sweep",
        _runs.run_id(spec.identity()),
        make_plan,
        work,
        expect=expect if max_chunks is None else None,
    )
    return load(path)


def _run_tasks(spec, path, tasks, done_count, total, desc, progress, max_chunks, on_chunk, models):
    from tqdm.auto import tqdm

    with tqdm(
        total=total,
        initial=done_count,
        disable=not progress,
        unit="real",
        desc=desc,
        dynamic_ncols=True,
    ) as bar:
        for count, (R_, iW, W_, start, stop, size) in enumerate(tasks):
            if max_chunks is not None and count >= max_chunks:
                break
            bar.set_postfix(R=R_, W=W_)
            fields = _compute_chunk(spec, models[R_], W_, start, stop, size)
            extra = {
                "W": np.float64(W_),
                "R": np.int64(R_),
                "draws": np.arange(start, stop),
                "method": np.str_(
                    resolve_method(
                        spec.method, models[R_].N, getattr(models[R_], "bandwidth", None)
                    )
                ),
            }
            if spec.kind == "qp":
                extra["theta0"] = np.asarray(spec.theta0)[start:stop]
            write_chunk(path, spec, R_, iW, start, stop, {**fields, **extra})
            target = chunk_path(path, R_, iW, start, stop)
            bar.update(stop - start)
            if on_chunk is not None:
                on_chunk(R=R_, W=W_, start=start, stop=stop, path=target)


# --------------------------------------------------------------------------- loading
class SweepResult(NamedTuple):
    """A sweep as arrays. Per-realization fields have shape (n_W, n_R, n_draws).

    Attributes:
        W: (n_W,) potential strengths.  R: (n_R,) size labels (radii).  N: (n_R,)
        l-bits per size.
        draws: (n_draws,) realization index.  theta0: (n_draws,) QP phases (None for
        random).  parameters: dict of all sweep parameters (kind, g0, dist, seed, model,
        ...).
        manifest: the stored manifest (versions, format).
        eta_tot, avalanche, converged, iterations, n_thermal, stability: the fields
        (NaN / False / -1 where not computed).  complete: bool mask of computed entries.
    """

    W: np.ndarray
    R: np.ndarray
    N: np.ndarray
    draws: np.ndarray
    theta0: np.ndarray | None
    parameters: dict
    manifest: dict
    eta_tot: np.ndarray
    avalanche: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    n_thermal: np.ndarray
    stability: np.ndarray
    complete: np.ndarray


def load(path) -> SweepResult:
    """Load a (possibly partial) sweep written by :func:`sweep`."""
    root = pathlib.Path(path)
    manifest = _runs.read_manifest(root, FORMAT)
    if manifest is None:
        raise ValueError(f"{root} holds no sweep ({_runs.MANIFEST} not found)")
    spec = spec_from_dict(manifest["parameters"])
    shape = (len(spec.W), len(spec.R), spec.n_draws)
    data = {f: np.full(shape, FILL[f], FIELD_DTYPES[f]) for f in FIELDS}
    complete = np.zeros(shape, bool)
    iR_of = {r: i for i, r in enumerate(spec.R)}
    for R_, iW, a, b, z in stored_chunks(root, spec, manifest):
        for f in FIELDS:
            data[f][iW, iR_of[R_], a:b] = z[f]
        complete[iW, iR_of[R_], a:b] = True
    if spec.model is None:
        raise ValueError(f"the sweep in {root} names no model per size")
    return SweepResult(
        W=np.asarray(spec.W),
        R=np.asarray(spec.R),
        N=np.asarray([spec.model[str(r)]["N"] for r in spec.R]),
        draws=np.arange(spec.n_draws),
        theta0=None if spec.theta0 is None else np.asarray(spec.theta0),
        parameters=dataclasses.asdict(spec),
        manifest=manifest,
        complete=complete,
        **data,
    )


# --------------------------------------------------------------------------- statistics
class EnsembleAverage(NamedTuple):
    """Ensemble statistics per (W, R); every field is an (n_W, n_R) array.

    Attributes:
        eta_mean, eta_sem: [eta_tot] (over theta0 or draws) and its
            standard error.
        eta_ratio: [eta_tot] / (N log 2), which tends to f_aval (eq. 19).
        f_aval, f_aval_err: fraction of avalanching samples and its binomial standard
            error sqrt(f (1 - f) / n).
        n: number of samples used.
        n_unconverged: samples dropped as unconverged.
    """

    eta_mean: np.ndarray
    eta_sem: np.ndarray
    eta_ratio: np.ndarray
    f_aval: np.ndarray
    f_aval_err: np.ndarray
    n: np.ndarray
    n_unconverged: np.ndarray


def ensemble_average(result: SweepResult) -> EnsembleAverage:
    """Ensemble statistics per (W, R) over the computed, converged realizations."""
    use = result.complete & result.converged
    n = use.sum(-1)
    safe = np.maximum(n, 1)
    eta = np.where(use, result.eta_tot, 0.0)
    mean = eta.sum(-1) / safe
    var = np.where(use, (result.eta_tot - mean[..., None]) ** 2, 0.0).sum(-1) / np.maximum(n - 1, 1)
    f = np.where(use, result.avalanche, False).sum(-1) / safe
    nan = np.where(n > 0, 1.0, np.nan)
    return EnsembleAverage(
        eta_mean=mean * nan,
        eta_sem=np.sqrt(var / safe) * nan,
        eta_ratio=mean * nan / (result.N[None, :] * LOG2),
        f_aval=f * nan,
        f_aval_err=np.sqrt(f * (1 - f) / safe) * nan,
        n=n,
        n_unconverged=(result.complete & ~result.converged).sum(-1),
    )


class ThresholdBracket(NamedTuple):
    """Grid bracket of the threshold per radius (:func:`threshold_bracket`), each (n_R,).

    Attributes:
        W_last: largest grid W with an avalanching sample (NaN if none).
        W_clear: the next grid W (NaN if the largest W still avalanches).
    """

    W_last: np.ndarray
    W_clear: np.ndarray


def threshold_bracket(result: SweepResult) -> ThresholdBracket:
    """Grid bracket of the threshold W_th per radius: (W_last, W_clear), each (n_R,).

    W_last is the largest W of the grid with an avalanching sample, W_clear the next
    grid value (no avalanche at it or any larger W of the grid); NaN where no sample
    avalanches (W_last) or the largest W still avalanches (W_clear). A sample-based
    bracket: for random potentials f_aval is small but (the paper argues) non-zero at
    every W, so W_clear only says that none of the n_draws samples avalanched there.
    """
    W = np.asarray(result.W)
    order = np.argsort(W)
    # arrays (pyright takes & of the fields for a numpy bool scalar)
    ok = result.avalanche & result.complete & result.converged
    any_aval = ok.any(-1)[order]  # pyright: ignore[reportIndexIssue]
    last = np.full(len(result.R), np.nan)
    clear = np.full(len(result.R), np.nan)
    for j in range(len(result.R)):
        hits = np.nonzero(any_aval[:, j])[0]
        if len(hits):
            k = hits[-1]
            last[j] = W[order][k]
            if k + 1 < len(W):
                clear[j] = W[order][k + 1]
        else:
            clear[j] = W[order][0]
    return ThresholdBracket(last, clear)
