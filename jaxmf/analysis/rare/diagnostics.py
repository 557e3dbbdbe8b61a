"""What the rare avalanches look like, and how fast they become rare.

:func:`calm_profile` describes potentials conditioned on avalanching (e.g. the last
populations of subset simulation, ``SubsetEstimate.conditional_V``) shell by shell
around the grain: how calm V_0 and the offsets V_n - V_0 are, and how many sites are
resonant with the grain's own orbital, against the iid values. :func:`fit_tail` fits
log f_aval(W) by an exponential and a power law.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..._checks import check_int
from .moves import shells

__all__ = ["CalmProfile", "calm_profile", "TailFit", "fit_tail"]


class CalmProfile(NamedTuple):
    """How calm the neighbourhood of the grain is (:func:`calm_profile`).

    Attributes:
        rms: (r_max + 1,) root-mean-square of V_0 (shell d = 0) and of V_n - V_0
            (shells d >= 1).
        median_abs: (r_max + 1,) the medians of their absolute values.
        resonant: (len(widths),) mean number of sites with 1 <= d <= r_max and
            |V_n - V_0| < a, for each width a.
        resonant_iid: (len(widths),) the same for V uniform on [-W, W] (exact:
            sum over sites of a / W - a^2 / (4 W^2), with W = max |V|).
        widths: (len(widths),) the resonance widths a.
    """

    rms: np.ndarray
    median_abs: np.ndarray
    resonant: np.ndarray
    resonant_iid: np.ndarray
    widths: np.ndarray


def _offsets(V, d, k):
    # shell 0: V_0 itself; shells d >= 1: V_n - V_0 (closeness to the grain's orbital)
    v = V[:, d == k]
    return v if k == 0 else v - V[:, :1]


def calm_profile(V, model, r_max=4, widths=(1.0, 3.0, 10.0)) -> CalmProfile:
    """How calm the neighbourhood of the grain is, shell by shell.

    Args:
        V: (M, N) potentials (e.g. ``SubsetEstimate.conditional_V``), hopping t = 1.
        model: a model with geometry (an int R: the paper's lattice).
        r_max: last shell d reported (distance to the grain; |n1| + |n2| on the paper's
            lattice), at most the largest distance.
        widths: resonance widths a for the counts.

    Returns:
        :class:`CalmProfile`.
    """
    d = shells(model)
    check_int("r_max", r_max, 0)
    R = int(d.max())
    V = np.asarray(V, float)
    if V.ndim != 2 or V.shape[1] != d.size:
        raise ValueError(f"V must have shape (M, N) with N = {d.size} for R = {R}, got {V.shape}")
    rms, med = [], []
    for k in range(min(r_max, R) + 1):
        v = _offsets(V, d, k)
        rms.append(float(np.sqrt(np.mean(v**2))))
        med.append(float(np.median(np.abs(v))))
    near = (d >= 1) & (d <= r_max)
    diff = np.abs(V[:, near] - V[:, :1])
    W = float(np.max(np.abs(V)))
    a = np.asarray(widths, float)
    res = np.array([float(np.mean(np.sum(diff < x, axis=1))) for x in a])
    iid = near.sum() * (a / W - a**2 / (4 * W**2))
    return CalmProfile(np.asarray(rms), np.asarray(med), res, iid, a)


class TailFit(NamedTuple):
    """Weighted fits of log f_aval(W) (:func:`fit_tail`); NaN with fewer than 3 points.

    Attributes:
        exp: (W_1, err, chi2/dof) of log f = a - W / W_1.
        power: (m, err, chi2/dof) of log f = a - m log W.
        n: number of points fitted.
        wlogw: (c, err, chi2/dof) of log f = a - c W log W (a stretched exponential:
            a factor ~1/W per site over a number of sites growing like W).
    """

    exp: tuple
    power: tuple
    n: int
    wlogw: tuple = (np.nan,) * 3


def _get(row, name):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def fit_tail(rows, W_min=0.0) -> TailFit:
    """Weighted fits of log f_aval(W) on rows with f > 0 and W >= W_min.

    Three forms: exponential log f = a - W / W_1, power law log f = a - m log W and
    log f = a - c W log W.
    Weights from the relative standard errors (floor 5 %).

    Args:
        rows: :class:`~jaxmf.analysis.rare.tail.TailRow` or dicts with W, f and
            stderr (e.g. read back from JSON), all for one (R, g0).
        W_min: smallest W used.

    Returns:
        :class:`TailFit`.
    """
    pts = sorted(
        ((float(_get(r, "W")), float(_get(r, "f")), float(_get(r, "stderr"))) for r in rows),
        key=lambda p: p[0],
    )
    pts = [p for p in pts if p[1] > 0 and p[0] >= W_min]
    if len(pts) < 3:
        return TailFit((np.nan,) * 3, (np.nan,) * 3, len(pts), (np.nan,) * 3)
    W = np.array([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    sig = np.maximum([p[2] / p[1] for p in pts], 0.05)
    out = {}
    for name, x in (("exp", W), ("power", np.log(W)), ("wlogw", W * np.log(W))):
        A = np.stack([np.ones_like(x), x], axis=1) / sig[:, None]
        coef, *_ = np.linalg.lstsq(A, y / sig, rcond=None)
        cov = np.linalg.inv(A.T @ A)
        chi2 = float(np.sum((A @ coef - y / sig) ** 2)) / (len(pts) - 2)
        slope, err = float(coef[1]), float(np.sqrt(cov[1, 1]))
        out[name] = (-1.0 / slope, err / slope**2, chi2) if name == "exp" else (-slope, err, chi2)
    return TailFit(out["exp"], out["power"], len(pts), out["wlogw"])
