"""Ensemble sweeps of the 2D lattice: W x R x (theta0 grid | random draws), resumable.

A sweep solves the mean-field equations (eq. 11/13) for every realization of the 2D
lattice model (Sec. VII, eq. 15-18) on a grid of potential strengths W and lattice
radii R, and stores per realization

    eta_tot     total entropic enhancement (eq. 14)
    avalanche   eta_tot > N log 2 / 2 (eq. 19)
    converged   the solver's convergence flag (False: do not use the values)
    iterations  solver steps
    n_thermal   n* = sum_n [S_n] / log 2, the thermalized count (from a table of [S]
                in log g, ~3e-6 relative; jaxmf.meanfield.thermalized_count is exact)
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
call in which the realization axis is split over all local devices by ``shard_map``
(the fast host path of :mod:`jaxmf.models.lattice` runs its ``pure_callback`` once per
device shard). A tqdm progress bar counts realizations.

Storage (a directory, numpy + JSON only)::

    PATH/manifest.json                    parameters, dist, g0, kind, method, seed or
                                          theta0 grid, jaxmf/jax versions, format
    PATH/chunks/R{R}_W{iW}_{a}-{b}.npz    one completed chunk: draws a..b-1 of W[iW]

Every chunk file also carries its own W, R, draw indices (and theta0 for QP). Files are
written to a temporary name and renamed (``os.replace``), so a chunk is either absent or
complete; an interrupted sweep resumes by computing only the draws not yet on disk (the
chunk size may change on resume). :func:`load` returns everything as arrays of shape
(n_W, n_R, n_draws) with a ``complete`` mask.

Multi-host runs (``jax.distributed``) are not handled here: each process would shard
over its local devices and write the same files; run one process per host on disjoint
R or W lists instead.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import re
import tempfile
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from . import _config  # noqa: F401  (float64)
from ._validate import check_dist
from .enhancement import mean_entropy
from .meanfield import avalanches, solve
from .models import lattice

__all__ = [
    "FIELDS",
    "FORMAT",
    "SweepResult",
    "theta_grid",
    "draw_key",
    "default_chunk_size",
    "sweep",
    "load",
    "ensemble_average",
    "threshold_bracket",
]

FORMAT = "jaxmf-lattice-sweep"
FORMAT_VERSION = 1
FIELDS = ("eta_tot", "avalanche", "converged", "iterations", "n_thermal", "stability")
_FIELD_DTYPES = {"eta_tot": np.float64, "avalanche": np.bool_, "converged": np.bool_,
                 "iterations": np.int32, "n_thermal": np.float64, "stability": np.float64}
_FILL = {"eta_tot": np.nan, "avalanche": False, "converged": False, "iterations": -1,
         "n_thermal": np.nan, "stability": np.nan}
_LOG2 = float(np.log(2.0))
_CHUNK_NAME = re.compile(r"R(\d+)_W(\d+)_(\d+)-(\d+)\.npz")


# --------------------------------------------------------------------------- realizations
def theta_grid(n):
    """The default QP ensemble: n phases theta0_j = 2 pi j / n, j = 0..n-1."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n_draws must be a positive int, got {n!r}")
    return 2.0 * np.pi * np.arange(n) / n


def draw_key(seed, R, i):
    """PRNG key of random draw i at radius R: fold_in(fold_in(key(seed), R), i).

    Jittable in ``seed`` and ``i`` (R is a static int); independent of W.
    """
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), R), i)


def default_chunk_size(N, n_devices=1, backend=None):
    """Realizations per chunk for N sites, a multiple of ``n_devices``.

    CPU: ~2^16 / N per device (a few seconds of work per chunk on the fast path, so the
    progress bar and the resume granularity stay fine; N = 221 -> 296, N = 5101 -> 12).
    Accelerators: the dense eigensolver needs ~4 N^2 doubles per realization; half of
    the device memory (or 8 GiB if unknown) is budgeted, at most 1024 per device.
    """
    backend = backend or jax.default_backend()
    if backend == "cpu":
        per_device = max(1, min(1024, 2 ** 16 // N))
    else:
        try:
            limit = jax.local_devices()[0].memory_stats()["bytes_limit"]
        except Exception:  # noqa: BLE001  (no memory_stats on this backend)
            limit = 8 * 2 ** 30
        per_device = int(max(1, min(1024, 0.5 * limit // (4 * 8 * N * N))))
    return per_device * n_devices


# --------------------------------------------------------------------------- parameters
@dataclasses.dataclass(frozen=True)
class _Spec:
    kind: str
    R: tuple
    W: tuple
    g0: float
    dist: str
    n_draws: int
    theta0: tuple | None
    seed: int | None
    method: str
    rtol: float
    max_steps: int

    # parameters that change the numbers; a resumed sweep must match them exactly
    def identity(self):
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "method"}


def _make_spec(kind, R, W, g0, dist, theta0, n_draws, seed, method, rtol, max_steps):
    if kind not in lattice.KINDS:
        raise ValueError(f"kind must be one of {lattice.KINDS}, got {kind!r}")
    check_dist(dist)
    if method not in lattice.METHODS:
        raise ValueError(f"method must be one of {lattice.METHODS}, got {method!r}")
    Rs = tuple(int(lattice._check_radius(r)) for r in np.atleast_1d(np.asarray(R, object)))
    Ws = np.atleast_1d(np.asarray(W, np.float64))
    if Ws.ndim != 1 or Ws.size == 0 or not np.all(np.isfinite(Ws) & (Ws >= 0)):
        raise ValueError(f"W must be finite values >= 0 (scalar or 1D), got {W!r}")
    if not Rs:
        raise ValueError("R must contain at least one lattice radius")
    if len(set(Rs)) != len(Rs) or len(set(Ws.tolist())) != len(Ws):
        raise ValueError("R and W must not contain repeated values")
    g0 = float(g0)
    if not (np.isfinite(g0) and g0 >= 0):
        raise ValueError(f"g0 must be finite and >= 0, got {g0!r}")
    if kind == "qp":
        if seed is not None:
            raise ValueError("seed is for kind='random'; QP realizations are set by theta0")
        if theta0 is None:
            if n_draws is None:
                raise ValueError("kind='qp' needs theta0 (array of phases) or n_draws "
                                 "(a uniform grid theta_grid(n_draws))")
            theta0 = theta_grid(n_draws)
        theta0 = np.atleast_1d(np.asarray(theta0, np.float64))
        if theta0.ndim != 1 or not np.all(np.isfinite(theta0)):
            raise ValueError("theta0 must be a finite scalar or 1D array")
        if n_draws is not None and n_draws != len(theta0):
            raise ValueError(f"n_draws={n_draws} does not match len(theta0)={len(theta0)}")
        theta0, n_draws = tuple(theta0.tolist()), len(theta0)
    else:
        if theta0 is not None:
            raise ValueError("theta0 is for kind='qp'; random draws are set by seed")
        if seed is None:
            raise ValueError("kind='random' needs an explicit integer seed")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
                0 <= seed < 2 ** 63):
            raise ValueError(f"seed must be an int in [0, 2^63), got {seed!r}")
        seed = int(seed)
        if n_draws is None:
            raise ValueError("kind='random' needs n_draws")
        theta_grid(n_draws)  # checks n_draws
        n_draws = int(n_draws)
    return _Spec(kind, Rs, tuple(Ws.tolist()), g0, dist, n_draws, theta0, seed, method,
                 float(rtol), int(max_steps))


def _manifest(spec):
    import jaxmf

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "description": "Mean-field sweep of the 2D grain + lattice model (Crowley & "
                       "Chandran PRB 106, 184208, Sec. VII): per realization eta_tot "
                       "(eq. 14), avalanche flag eta_tot > N log2/2 (eq. 19), solver "
                       "convergence/iterations, n* = sum_n [S_n]/log 2, stability margin.",
        "parameters": dataclasses.asdict(spec),
        "N": {str(r): lattice.num_sites(r) for r in spec.R},
        "realizations": ("theta0 grid (QP phase offsets), see parameters.theta0"
                         if spec.kind == "qp" else
                         "random draw i at radius R: key fold_in(fold_in("
                         "jax.random.key(seed), R), i), independent of W"),
        "fields": {f: str(np.dtype(_FIELD_DTYPES[f])) for f in FIELDS},
        "layout": "chunks/R{R}_W{index into W}_{first draw}-{last draw + 1}.npz",
        "jaxmf_version": jaxmf.__version__,
        "jax_version": jax.__version__,
    }


# --------------------------------------------------------------------------- computation
# n* = sum_n [S](g_n) / log 2 from a table of [S] in l = log g: the quadrature behind
# jaxmf.mean_entropy costs ~40 us per value, more than the couplings themselves at
# R = 10-22; linear interpolation on this grid is accurate to ~3e-6 relative.
_S_LOG_MIN, _S_LOG_MAX, _S_STEP = float(np.log(1e-12)), 25.0, 0.005


@functools.lru_cache(maxsize=None)
def _entropy_table(dist):
    n = int(round((_S_LOG_MAX - _S_LOG_MIN) / _S_STEP)) + 1
    g = np.exp(_S_LOG_MIN + _S_STEP * np.arange(n))
    with jax.ensure_compile_time_eval():  # a constant, also when first needed in a trace
        return np.concatenate([np.asarray(mean_entropy(g[k:k + 2048], dist))
                               for k in range(0, n, 2048)])


def _thermalized_count(log_g, dist):
    """n* = sum_n [S](g_n) / log 2 over the last axis, from log g (-inf: decoupled)."""
    table = jnp.asarray(_entropy_table(dist))
    n = table.shape[0]
    x = (log_g - _S_LOG_MIN) / _S_STEP
    i = jnp.clip(jnp.floor(jnp.where(jnp.isfinite(x), x, 0.0)), 0, n - 2).astype(jnp.int32)
    t = x - i
    S = table[i] * (1.0 - t) + table[i + 1] * t
    S = jnp.where(x < 0, table[0] * jnp.exp(log_g - _S_LOG_MIN), S)  # [S] ~ g as g -> 0
    S = jnp.where(x > n - 1, table[-1], S)  # [S] -> log 2
    return jnp.sum(jnp.where(jnp.isfinite(log_g), S, 0.0), axis=-1) / _LOG2


@functools.lru_cache(maxsize=None)
def _chunk_function(R, kind, dist, method, rtol, max_steps, n_devices):
    """Jitted (W, g0, seed, x[chunk]) -> dict of per-realization fields, sharded."""
    mesh = Mesh(np.array(jax.local_devices()[:n_devices]), ("draws",))

    def local(W, g0, seed, x):
        if kind == "qp":
            g = jax.vmap(lambda t: lattice.bare_couplings(
                R, W, g0=g0, theta0=t, kind="qp", method=method))(x)
        else:
            g = jax.vmap(lambda i: lattice.bare_couplings(
                R, W, g0=g0, key=draw_key(seed, R, i), kind="random", method=method))(x)
        res = solve(g, dist, rtol=rtol, max_steps=max_steps)
        return {"eta_tot": res.eta_tot, "avalanche": avalanches(res),
                "converged": res.converged, "iterations": res.iterations.astype(jnp.int32),
                "n_thermal": _thermalized_count(res.log_g, dist), "stability": res.stability}

    rep, shard = PartitionSpec(), PartitionSpec("draws")
    # check_vma=False: the solver's while_loop carries start replicated (zeros) and
    # become per-shard; every output is per-realization, so no check is needed
    return jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(rep, rep, rep, shard),
                                 out_specs=shard, check_vma=False))


def _compute_chunk(spec, R, W, start, stop, chunk_size, n_devices):
    idx = np.arange(start, stop)
    # pad every chunk to the full chunk size (one compilation per R)
    padded = np.concatenate([idx, np.full(chunk_size - len(idx), idx[-1])])
    x = (np.asarray(spec.theta0)[padded] if spec.kind == "qp" else padded.astype(np.int64))
    fn = _chunk_function(R, spec.kind, spec.dist, spec.method, spec.rtol, spec.max_steps,
                         n_devices)
    out = fn(jnp.float64(W), jnp.float64(spec.g0), jnp.int64(spec.seed or 0), jnp.asarray(x))
    return {f: np.asarray(out[f])[: len(idx)].astype(_FIELD_DTYPES[f]) for f in FIELDS}


# --------------------------------------------------------------------------- storage
def _atomic_write(path, write):
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _write_json(path, obj):
    _atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1).encode()))


def _chunk_path(root, R, iW, start, stop):
    return pathlib.Path(root) / "chunks" / f"R{R}_W{iW}_{start}-{stop}.npz"


def _chunk_files(root):
    """{(R, iW): [(start, stop, path), ...]} of the completed chunk files."""
    found = {}
    folder = pathlib.Path(root) / "chunks"
    if folder.is_dir():
        for p in folder.iterdir():
            m = _CHUNK_NAME.fullmatch(p.name)
            if m:
                R, iW, a, b = map(int, m.groups())
                found.setdefault((R, iW), []).append((a, b, p))
    return found


def _missing_ranges(done, n):
    """Draw ranges [a, b) in 0..n not covered by the (a, b, path) list ``done``."""
    covered = np.zeros(n, bool)
    for a, b, _ in done:
        covered[a:b] = True
    out, i = [], 0
    while i < n:
        if covered[i]:
            i += 1
            continue
        j = i
        while j < n and not covered[j]:
            j += 1
        out.append((i, j))
        i = j
    return out


def _open_or_create(path, spec):
    root = pathlib.Path(path)
    manifest_path = root / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("format") != FORMAT:
            raise ValueError(f"{manifest_path} is not a {FORMAT} manifest")
        old_spec = _spec_from_dict(old["parameters"])
        if old_spec.identity() != spec.identity():
            diff = {k: (old_spec.identity()[k], v) for k, v in spec.identity().items()
                    if old_spec.identity()[k] != v}
            raise ValueError(f"{root} holds a sweep with other parameters "
                             f"(stored, requested): {diff}; use a new directory")
        return old
    (root / "chunks").mkdir(parents=True, exist_ok=True)
    manifest = _manifest(spec)
    _write_json(manifest_path, manifest)
    return manifest


def _spec_from_dict(d):
    d = dict(d)
    for k in ("R", "W", "theta0"):
        if d.get(k) is not None:
            d[k] = tuple(d[k])
    return _Spec(**d)


# --------------------------------------------------------------------------- runner
def sweep(path, *, kind, R, W, g0=1.0, dist="goe", theta0=None, n_draws=None, seed=None,
          method="auto", chunk_size=None, progress=True, max_chunks=None,
          rtol=1e-13, max_steps=400, on_chunk: Callable | None = None) -> "SweepResult":
    """Run (or resume) a sweep over W x R x realizations; results go to ``path``.

    Args:
        path: directory for the manifest and chunk files (created if absent). If it
            already holds a sweep with the same parameters, only the missing draws are
            computed; other parameters raise ValueError.
        kind: ``"qp"`` or ``"random"``.
        R: lattice radius or list of radii (non-negative ints).
        W: potential strength or list of them (>= 0).
        g0: grain coupling scale (eq. 18).
        dist: ptilde family for eta ("goe" or "poisson").
        theta0: QP phases (scalar or 1D array); default ``theta_grid(n_draws)``.
        n_draws: number of realizations per (W, R) (QP: grid size if theta0 is None).
        seed: integer seed, required for ``kind="random"``.
        method: couplings path ("auto", "eigh", "fast"; see
            :func:`jaxmf.models.lattice.origin_spectrum`); recorded, not part of the
            parameters a resumed sweep must match (the paths agree to ~1e-12).
        chunk_size: realizations per jitted call, default :func:`default_chunk_size`;
            capped at n_draws and rounded up to a multiple of the device count. A short
            last chunk is padded to the full size (one compilation per R).
        progress: show a tqdm progress bar.
        max_chunks: compute at most this many chunks in this call, then return what is
            on disk (the rest can be resumed later).
        rtol, max_steps: solver settings (see :func:`jaxmf.solve`).
        on_chunk: called as ``on_chunk(R=, W=, start=, stop=, path=)`` after each
            chunk is written (e.g. for logging; an exception raised there stops the
            sweep with everything written so far kept).

    Returns:
        :class:`SweepResult` of everything on disk (``load(path)``).
    """
    spec = _make_spec(kind, R, W, g0, dist, theta0, n_draws, seed, method, rtol, max_steps)
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(
            chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    _open_or_create(path, spec)
    n_devices = len(jax.local_devices())
    tasks, done_count = [], 0
    files = _chunk_files(path)
    for R_ in spec.R:
        size = chunk_size or default_chunk_size(lattice.num_sites(R_), n_devices)
        # no chunk larger than the sweep (chunks are padded to their full size)
        size = min(int(size), spec.n_draws)
        size = -(-size // n_devices) * n_devices
        for iW, W_ in enumerate(spec.W):
            missing = _missing_ranges(files.get((R_, iW), []), spec.n_draws)
            done_count += spec.n_draws - sum(b - a for a, b in missing)
            for a, b in missing:
                for start in range(a, b, size):
                    tasks.append((R_, iW, W_, start, min(start + size, b), size))

    from tqdm.auto import tqdm

    total = len(spec.R) * len(spec.W) * spec.n_draws
    with tqdm(total=total, initial=done_count, disable=not progress, unit="real",
              desc=f"sweep {spec.kind}", dynamic_ncols=True) as bar:
        for count, (R_, iW, W_, start, stop, size) in enumerate(tasks):
            if max_chunks is not None and count >= max_chunks:
                break
            bar.set_postfix(R=R_, W=W_)
            fields = _compute_chunk(spec, R_, W_, start, stop, size, n_devices)
            extra = {"W": np.float64(W_), "R": np.int64(R_), "draws": np.arange(start, stop),
                     "method": np.str_(lattice._resolve_method(
                         spec.method, lattice.num_sites(R_)))}
            if spec.kind == "qp":
                extra["theta0"] = np.asarray(spec.theta0)[start:stop]
            target = _chunk_path(path, R_, iW, start, stop)
            _atomic_write(target, lambda f: np.savez(f, **fields, **extra))
            bar.update(stop - start)
            if on_chunk is not None:
                on_chunk(R=R_, W=W_, start=start, stop=stop, path=target)
    return load(path)


# --------------------------------------------------------------------------- loading
class SweepResult(NamedTuple):
    """A sweep as arrays. Per-realization fields have shape (n_W, n_R, n_draws).

    Attributes:
        W: (n_W,) potential strengths.  R: (n_R,) radii.  N: (n_R,) sites per radius.
        draws: (n_draws,) realization index.  theta0: (n_draws,) QP phases (None for
        random).  parameters: dict of all sweep parameters (kind, g0, dist, seed, ...).
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
    manifest = json.loads((root / "manifest.json").read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{root} is not a {FORMAT} directory")
    spec = _spec_from_dict(manifest["parameters"])
    shape = (len(spec.W), len(spec.R), spec.n_draws)
    data = {f: np.full(shape, _FILL[f], _FIELD_DTYPES[f]) for f in FIELDS}
    complete = np.zeros(shape, bool)
    iR_of = {r: i for i, r in enumerate(spec.R)}
    for (R_, iW), chunks in _chunk_files(root).items():
        if R_ not in iR_of or iW >= len(spec.W):
            raise ValueError(f"chunk R={R_}, W index {iW} is not in the manifest of {root}")
        iR = iR_of[R_]
        for a, b, p in chunks:
            with np.load(p) as z:
                if int(z["R"]) != R_ or float(z["W"]) != spec.W[iW] or not np.array_equal(
                        z["draws"], np.arange(a, b)):
                    raise ValueError(f"{p} does not match its name or the manifest")
                for f in FIELDS:
                    data[f][iW, iR, a:b] = z[f]
            complete[iW, iR, a:b] = True
    return SweepResult(
        W=np.asarray(spec.W), R=np.asarray(spec.R),
        N=np.asarray([lattice.num_sites(r) for r in spec.R]),
        draws=np.arange(spec.n_draws),
        theta0=None if spec.theta0 is None else np.asarray(spec.theta0),
        parameters=dataclasses.asdict(spec), manifest=manifest, complete=complete, **data)


# --------------------------------------------------------------------------- statistics
def ensemble_average(result: SweepResult) -> dict:
    """Ensemble statistics per (W, R) over the computed, converged realizations.

    Returns a dict of (n_W, n_R) arrays:
        eta_mean, eta_sem: [eta_tot] (over theta0 or draws; Fig. 5a, b) and its
            standard error;
        eta_ratio: [eta_tot] / (N log 2), which tends to f_aval (eq. 19);
        f_aval, f_aval_err: fraction of avalanching samples and its binomial standard
            error sqrt(f (1 - f) / n);
        n: number of samples used;  n_unconverged: samples dropped as unconverged.
    """
    use = result.complete & result.converged
    n = use.sum(-1)
    safe = np.maximum(n, 1)
    eta = np.where(use, result.eta_tot, 0.0)
    mean = eta.sum(-1) / safe
    var = np.where(use, (result.eta_tot - mean[..., None]) ** 2, 0.0).sum(-1) / np.maximum(
        n - 1, 1)
    f = np.where(use, result.avalanche, False).sum(-1) / safe
    nan = np.where(n > 0, 1.0, np.nan)
    return {
        "eta_mean": mean * nan, "eta_sem": np.sqrt(var / safe) * nan,
        "eta_ratio": mean * nan / (result.N[None, :] * _LOG2),
        "f_aval": f * nan, "f_aval_err": np.sqrt(f * (1 - f) / safe) * nan,
        "n": n, "n_unconverged": (result.complete & ~result.converged).sum(-1),
    }


def threshold_bracket(result: SweepResult):
    """Grid bracket of the threshold W_th per radius: (W_last, W_clear), each (n_R,).

    W_last is the largest W of the grid with an avalanching sample, W_clear the next
    grid value (no avalanche at it or any larger W of the grid); NaN where no sample
    avalanches (W_last) or the largest W still avalanches (W_clear). A sample-based
    bracket: for random potentials f_aval is small but (the paper argues) non-zero at
    every W, so W_clear only says that none of the n_draws samples avalanched there.
    """
    W = np.asarray(result.W)
    order = np.argsort(W)
    any_aval = (result.avalanche & result.complete & result.converged).any(-1)[order]
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
    return last, clear
