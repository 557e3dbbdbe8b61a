"""Storage of ensemble sweeps: parameters, manifest and chunk files (numpy + JSON).

Layout of a sweep directory (see :mod:`jaxmf.analysis.ensemble`)::

    PATH/manifest.json                    parameters, run id, versions, format
    PATH/chunks/R{R}_W{iW}_{a}-{b}.npz    one completed chunk: draws a..b-1 of W[iW],
                                          with the run id of the sweep that made it

Manifest, run ids, damaged and foreign chunks: the run layer, :mod:`jaxmf._runs`.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import warnings

import numpy as np

from .. import _runs
from .._checks import check_choice, check_int, check_radius
from ..models import KINDS, square
from ..models.contract import json_spec
from ..models.spectral import METHODS
from ..resonance import check_dist

FORMAT = "jaxmf-lattice-sweep"
FORMAT_VERSION = 2  # 2: the run id in the manifest and in every chunk
FIELDS = ("eta_tot", "avalanche", "converged", "iterations", "n_thermal", "stability")
FIELD_DTYPES = {
    "eta_tot": np.float64,
    "avalanche": np.bool_,
    "converged": np.bool_,
    "iterations": np.int32,
    "n_thermal": np.float64,
    "stability": np.float64,
}
FILL = {
    "eta_tot": np.nan,
    "avalanche": False,
    "converged": False,
    "iterations": -1,
    "n_thermal": np.nan,
    "stability": np.nan,
}
_CHUNK_NAME = re.compile(r"R(\d+)_W(\d+)_(\d+)-(\d+)\.npz")


def theta_grid(n):
    """The default QP ensemble: n phases theta0_j = 2 pi j / n, j = 0..n-1."""
    check_int("n_draws", n, 1)
    return 2.0 * np.pi * np.arange(n) / n


@dataclasses.dataclass(frozen=True)
class Spec:
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
    model: dict | None = None  # str(size label) -> the model's JSON spec

    # parameters that change the numbers; a resumed sweep must match them exactly. The
    # paper's lattice leaves the model out: the identity (and run id) of the sweeps
    # stored before models were recorded.
    def identity(self):
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "method"}
        if out["model"] == _paper_models(self.R):
            del out["model"]
        return out


def _paper_models(R):
    return json_spec({str(r): square(r).spec() for r in R})


def make_spec(kind, R, W, g0, dist, theta0, n_draws, seed, method, rtol, max_steps, model=None):
    """``R``: the models' size labels; ``model``: {label: model spec} (None: the paper's
    lattice at each R)."""
    check_choice("kind", kind, KINDS)
    check_dist(dist)
    check_choice("method", method, METHODS)
    Rs = tuple(int(check_radius(r)) for r in np.atleast_1d(np.asarray(R, object)))
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
                raise ValueError(
                    "kind='qp' needs theta0 (array of phases) or n_draws "
                    "(a uniform grid theta_grid(n_draws))"
                )
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
        if (
            isinstance(seed, bool)
            or not isinstance(seed, (int, np.integer))
            or not (0 <= seed < 2**63)
        ):
            raise ValueError(f"seed must be an int in [0, 2^63), got {seed!r}")
        seed = int(seed)
        if n_draws is None:
            raise ValueError("kind='random' needs n_draws")
        theta_grid(n_draws)  # checks n_draws
        n_draws = int(n_draws)
    if model is None:
        model = {r: square(r).spec() for r in Rs}
    model = json_spec({str(r): model[r] for r in Rs})
    return Spec(
        kind,
        Rs,
        tuple(Ws.tolist()),
        g0,
        dist,
        n_draws,
        theta0,
        seed,
        method,
        float(rtol),
        int(max_steps),
        model,
    )


def make_manifest(spec):
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "description": "Mean-field sweep of a grain + l-bits model (parameters.model; "
        "Crowley & Chandran PRB 106, 184208): per realization eta_tot "
        "(eq. 14), avalanche flag eta_tot > N log2/2 (eq. 19), solver "
        "convergence/iterations, n* = sum_n [S_n]/log 2, stability margin.",
        # the run id hashes these (except method); no model entry: the paper's lattice
        "parameters": {**spec.identity(), "method": spec.method},
        "N": {str(r): spec.model[str(r)]["N"] for r in spec.R},
        "realizations": (
            "theta0 grid (QP phase offsets), see parameters.theta0"
            if spec.kind == "qp"
            else "random draw i at size label R: key fold_in(fold_in("
            "jax.random.key(seed), R), i), independent of W"
        ),
        "fields": {f: str(np.dtype(FIELD_DTYPES[f])) for f in FIELDS},
        "layout": "chunks/R{R}_W{index into W}_{first draw}-{last draw + 1}.npz",
        "identity": "run_id: hash of the parameters except method; every chunk records "
        "the run_id of the sweep that made it",
        **_runs.versions(),
    }


# --------------------------------------------------------------------------- storage
def chunk_path(root, R, iW, start, stop):
    return pathlib.Path(root) / "chunks" / f"R{R}_W{iW}_{start}-{stop}.npz"


def chunk_files(root):
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


def missing_ranges(done, n):
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


def _chunk_problem(spec, R, iW, start, stop, z):
    """Why chunk file R{R}_W{iW}_{start}-{stop}.npz of ``spec`` is not what its name
    says (a string), or None."""
    if R not in spec.R or iW >= len(spec.W):
        return f"R = {R}, W index {iW} is not in the sweep"
    if (
        z["R"].shape != ()
        or int(z["R"]) != R
        or z["W"].shape != ()
        or (float(z["W"]) != spec.W[iW])
    ):
        return "its R or W does not match its name"
    if not np.array_equal(z["draws"], np.arange(start, stop)):
        return "its draws do not match its name"
    if any(z[f].shape != (stop - start,) for f in FIELDS):
        return "a field does not hold one value per draw"
    return None


def _reader(spec):
    def read(key, path, rid, legacy):
        return _runs.read_unit(
            path,
            rid,
            legacy=legacy,
            fields=FIELDS + ("R", "W", "draws"),
            # key is (R, iW, start, stop)
            check=lambda z: _chunk_problem(spec, *key, z),  # pyright: ignore[reportCallIssue]
        )

    return read


def _units(root):
    return [
        ((R, iW, a, b), p) for (R, iW), chunks in chunk_files(root).items() for a, b, p in chunks
    ]


def prepare(path, spec):
    """Process 0 before planning: the manifest checked (or written, for a new sweep),
    damaged chunks set aside, chunks of another run refused (:func:`jaxmf._runs.prepare`);
    returns {(R, iW): [(start, stop, path), ...]} of the usable chunk files."""
    good = set(
        _runs.prepare(
            path,
            fmt=FORMAT,
            spec=spec.identity(),
            manifest=make_manifest(spec),
            units=lambda: _units(path),
            read=_reader(spec),
        )
    )
    (pathlib.Path(path) / "chunks").mkdir(exist_ok=True)
    found = {}
    for key, p in _units(path):
        if key in good:
            found.setdefault(key[:2], []).append((key[2], key[3], p))
    return found


def stored_chunks(root, spec, manifest):
    """(R, iW, start, stop, arrays) of every chunk file in ``root`` (for loading).

    A damaged chunk is named in a RuntimeWarning and left out (the next ``sweep`` sets
    it aside and computes it again); a chunk of another run raises ValueError."""
    rid, read = manifest.get(_runs.RUN_ID), _reader(spec)
    for key, p in _units(root):
        try:
            yield (*key, read(key, p, rid, rid is None))
        except _runs.DamagedUnit as err:
            warnings.warn(
                f"{err}: left out; rerun the sweep to compute it again",
                RuntimeWarning,
                stacklevel=3,
            )
        except _runs.ForeignUnit as err:
            raise ValueError(
                f"{err}, not by the sweep of {root / _runs.MANIFEST}: "
                f"move it away or use the folder it belongs to"
            ) from None


def write_chunk(path, spec, R, iW, start, stop, arrays):
    """Store one chunk (the fields and W, R, draws ...) with the sweep's run id."""
    _runs.write_unit(chunk_path(path, R, iW, start, stop), arrays, _runs.run_id(spec.identity()))


def spec_from_dict(d):
    d = dict(d)
    for k in ("R", "W", "theta0"):
        if d.get(k) is not None:
            d[k] = tuple(d[k])
    if d.get("model") is None:  # stored before models were recorded: the paper's lattice
        d["model"] = _paper_models(d["R"])
    return Spec(**d)
