"""The DRH chain by exact diagonalization against mean field (Sec. VI).

ED of the central-grain chain (:mod:`jaxmf.models.ed`) gives [S_end] vs alpha for
several N; mean field gives [S_N] = [S](g_N) with g_N from the self-consistent
equations (11) for g_{n,0} = g10 alpha^(n-1) (eq. 12). The bare reduced coupling
g10 = g_{1,0} is fitted so that the two agree at alpha = alpha_c (Sec. VI); then the
whole curves [S_end](alpha) and the distributions p(S_end) at a few alpha are
compared.

Two couplings, two names: J1 is the first coupling of the ED Hamiltonian (an energy,
in units where h = 1); g10 is the dimensionless reduced coupling of the mean-field
chain. g10 is not computed from J1 but fitted to the ED entropies.

Randomness: realization i of an N-spin chain uses fold_in(fold_in(key, N), i), the
same for every alpha (common random numbers: curves vs alpha are smooth, pointwise
errors are honest) and the same whatever n_samples is (a larger run extends a smaller).

The g10 fit runs on optax (:func:`jaxmf.analysis.fits.least_squares`) with gradients
through the implicitly differentiated solver. :func:`end_entropy_curves` and
:func:`end_entropy_distributions` assemble plain dicts (JSON-ready with
:func:`jaxmf._io.write_json`) that :mod:`jaxmf.plot.ed` draws. Entropies are in nats.

One module for one concept, the ED-vs-mean-field comparison of Sec. VI: the ED curves
and distributions, the mean-field side, the g10 fit and the distances between them are
read against each other and share their presets; the ED itself and its statistics live
in :mod:`jaxmf.models.ed` and :mod:`jaxmf.analysis.ed_statistics`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import LOG2, check_choice, check_int
from ..enhancement import entropy_pdf, mean_entropy
from ..meanfield import mean_entropies, solve
from ..models import ed
from ..models.chain import ALPHA_C, drh_log_couplings
from ..resonance import check_dist
from ._keys import sample_keys
from .ed_statistics import entropy_histogram, entropy_statistics
from .entropy_distance import distribution_distance, entropy_cdf
from .fits import least_squares

__all__ = [
    "ALPHA_C",
    "ChainRecord",
    "ChainED",
    "BareCouplingFit",
    "per_N",
    "chain_ed",
    "mf_end_entropy",
    "mf_end_coupling",
    "fit_bare_coupling",
    "end_entropy_curves",
    "end_entropy_distributions",
]


class ChainRecord(NamedTuple):
    """ED of one chain length N on a grid of alpha (same realizations at every alpha).

    Attributes:
        N, alphas, n_samples: chain length, (n_alpha,) decays, realizations.
        mean_all, stderr_all, mean_middle, stderr_middle: (n_alpha,) [S_end] over all
            eigenstates / the middle of the spectrum, with standard errors over
            realizations.
        per_sample_all, per_sample_middle: (n_alpha, n_samples) per-realization averages.
        hist_edges: (bins + 1,) on [0, log 2]; hist_density, hist_stderr: (n_alpha, bins).
        seconds, seconds_per_sample: run time.
        entropies: (n_alpha, n_samples, D) raw entropies, or None.
    """

    N: int
    alphas: np.ndarray
    n_samples: int
    mean_all: np.ndarray
    stderr_all: np.ndarray
    mean_middle: np.ndarray
    stderr_middle: np.ndarray
    per_sample_all: np.ndarray
    per_sample_middle: np.ndarray
    hist_edges: np.ndarray
    hist_density: np.ndarray
    hist_stderr: np.ndarray
    seconds: float
    seconds_per_sample: float
    entropies: np.ndarray | None


class ChainED(NamedTuple):
    """Result of :func:`chain_ed`: params (ED parameters, middle_fraction, bins) and
    chains, one :class:`ChainRecord` per N."""

    params: dict
    chains: tuple


class BareCouplingFit(NamedTuple):
    """Result of :func:`fit_bare_coupling` (g10 = g_{1,0}, the reduced coupling).

    Attributes:
        dist, average: ptilde family; ED eigenstate average fitted ("all"/"middle").
        Ns: chain lengths with an alpha_c point.
        ed, ed_err: (n,) ED [S_end] at alpha_c and its errors (the fit's weights).
        g10, g10_err: shared g10 and its error from the ED errors (Gauss-Newton).
        chi2: sum_N ((MF_N - ED_N) / err_N)^2 at the shared g10 (n - 1 dof).
        mf_at_fit: (n,) MF [S_N](alpha_c) at the shared g10.
        g10_per_N, g10_per_N_err: (n,) each N's own g10 (the root of MF_N = ED_N).
        converged: whether both optax fits met their gradient tolerance.
        iterations: L-BFGS iterations of (per-N fit, shared fit).
    """

    dist: str
    average: str
    Ns: list
    ed: np.ndarray
    ed_err: np.ndarray
    g10: float
    g10_err: float
    chi2: float
    mf_at_fit: np.ndarray
    g10_per_N: np.ndarray
    g10_per_N_err: np.ndarray
    converged: bool
    iterations: tuple


def _get(obj, name):
    """obj[name] for dicts (JSON-loaded data), obj.name for NamedTuples."""
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


def per_N(value, N: int, name: str = "value"):
    """value[N] for a dict {N: value}, else value itself (how :func:`chain_ed` reads
    its per-N arguments)."""
    if isinstance(value, Mapping):
        if N not in value:
            raise ValueError(f"{name} has no entry for N = {N}")
        return value[N]
    return value


# ------------------------------------------------------------------------------ ED
def chain_ed(
    Ns=(6, 7, 8),
    alphas=(0.5, 0.6, ALPHA_C, 0.8, 0.9),
    n_samples=4,
    *,
    key,
    middle_fraction: float = 1 / 3,
    bins: int = 40,
    keep_entropies: bool = False,
    progress: bool = False,
    **params,
) -> ChainED:
    """ED of the DRH chain: end-spin entropy statistics for each N and alpha.

    Args:
        Ns: chain lengths.
        alphas: coupling decays, the same for all N, or a dict {N: alphas}.
        n_samples: realizations per (N, alpha), an int or a dict {N: int}. The same
            realizations (grain, fields) are used for every alpha of one N.
        key: JAX PRNG key, keyword-only (an int seed is converted with
            ``jax.random.key``).
        middle_fraction: fraction of the spectrum (by rank) of the "middle" average.
        bins: bins of the sample-averaged histogram p(S_end) on [0, log 2].
        keep_entropies: also keep the raw (n_alpha, n_samples, D) entropies.
        progress: print one line per (N, alpha).
        **params: ED parameters (J1, d_g, grain_rms, h_mean, h_width, grain_norm);
            J1 is the Hamiltonian's coupling (an energy), not g10.

    Returns:
        :class:`ChainED`.
    """
    chains = []
    for N in Ns:
        check_int("N", N, 1)
        a_N = np.asarray(per_N(alphas, N, "alphas"), float)
        n_N = check_int("n_samples", per_N(n_samples, N, "n_samples"), 1)
        keys = sample_keys(key, n_N, N)
        t0 = time.perf_counter()
        cols = {
            k: []
            for k in (
                "mean_all",
                "stderr_all",
                "mean_middle",
                "stderr_middle",
                "per_sample_all",
                "per_sample_middle",
                "hist_density",
                "hist_stderr",
                "entropies",
            )
        }
        for alpha in a_N:
            S = np.asarray(ed.drh_ensemble(N, float(alpha), key=keys, **params).entropy)
            st = entropy_statistics(S, middle_fraction)
            hist = entropy_histogram(S, bins=bins)
            for name in (
                "mean_all",
                "stderr_all",
                "mean_middle",
                "stderr_middle",
                "per_sample_all",
                "per_sample_middle",
            ):
                cols[name].append(np.asarray(getattr(st, name)))
            cols["hist_density"].append(hist.density)
            cols["hist_stderr"].append(hist.stderr)
            if keep_entropies:
                cols["entropies"].append(S)
            if progress:
                print(
                    f"ED N={N} alpha={alpha:.4f}: [S_end] = {float(st.mean_all):.4f} "
                    f"+- {float(st.stderr_all):.4f} ({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
        seconds = time.perf_counter() - t0
        stacked: dict[str, Any] = {k: np.stack(v) if v else None for k, v in cols.items()}
        chains.append(
            ChainRecord(
                N=int(N),
                alphas=a_N,
                n_samples=n_N,
                hist_edges=hist.edges,
                seconds=seconds,
                seconds_per_sample=seconds / (n_N * len(a_N)),
                **stacked,
            )
        )
    return ChainED(
        params=dict(middle_fraction=middle_fraction, bins=bins, **{**ed.DEFAULTS, **params}),
        chains=tuple(chains),
    )


# ---------------------------------------------------------------------- mean field
@functools.partial(jax.jit, static_argnums=(0, 3))
def _mf_end_entropy(N, alpha, g10, dist):
    res = solve(drh_log_couplings(N, alpha, g10), dist, log_input=True)
    return mean_entropies(res, dist)[..., -1]


def mf_end_entropy(N: int, alpha, g10, dist: str = "goe"):
    """Mean-field [S_N] of the end l-bit of the DRH chain (eq. 11, 12, A13).

    Args:
        N: chain length.
        alpha: coupling decay(s), any shape.
        g10: bare reduced coupling g_{1,0} of the first l-bit (scalar or broadcastable).
        dist: ptilde family.

    Returns:
        jax array [S](g_N), shape of alpha; differentiable in g10 and alpha.
    """
    check_dist(dist)
    return _mf_end_entropy(N, jnp.asarray(alpha, jnp.float64), jnp.asarray(g10, jnp.float64), dist)


def mf_end_coupling(N: int, alpha, g10, dist: str = "goe") -> np.ndarray:
    """The end l-bit's self-consistent reduced coupling g_N (eq. 11), shape of alpha."""
    check_dist(dist)
    res = solve(drh_log_couplings(N, alpha, g10), dist, log_input=True)
    return np.asarray(res.g[..., -1])


@functools.cache
def _alpha_c_residuals(Ns: tuple, dist: str):
    """r(log g10) = (MF_N(alpha_c) - y_N) / e_N for N in Ns; log g10 is one value per N
    or one shared value (shape (1,))."""

    def residuals(log_g10, y, e):
        lg = jnp.broadcast_to(log_g10, (len(Ns),))
        S = jnp.stack(
            [
                _mf_end_entropy(N, jnp.float64(ALPHA_C), jnp.exp(lg[i]), dist)
                for i, N in enumerate(Ns)
            ]
        )
        return (S - y) / e

    return residuals


def _ed_at_alpha_c(ed_data, average):
    Ns, vals, errs = [], [], []
    for rec in _get(ed_data, "chains"):
        a = np.asarray(_get(rec, "alphas"), float)
        i = np.flatnonzero(np.isclose(a, ALPHA_C, atol=1e-9))
        if len(i):
            Ns.append(int(_get(rec, "N")))
            vals.append(float(np.asarray(_get(rec, f"mean_{average}"))[i[0]]))
            errs.append(float(np.asarray(_get(rec, f"stderr_{average}"))[i[0]]))
    if not Ns:
        raise ValueError("the ED data has no alpha = alpha_c = 1/sqrt(2) point to fit to")
    return Ns, np.array(vals), np.array(errs)


def fit_bare_coupling(
    ed_data, dist: str = "goe", average: str = "all", *, max_iter: int = 200
) -> BareCouplingFit:
    """Fit g10 = g_{1,0} so that mean field and ED agree at alpha = alpha_c (Sec. VI).

    Per N: the root of [S_N](g10; alpha_c) = [S_end]_ED. Shared: one g10 for all N by
    weighted least squares, min sum_N ((MF_N - ED_N) / err_N)^2. Both are fits in
    log g10 on optax L-BFGS (:func:`jaxmf.analysis.fits.least_squares`; the per-N fits
    as one separable problem), with gradients through the implicitly differentiated
    solver; errors from the Gauss-Newton curvature and the ED errors. g10 is the
    reduced coupling of the mean-field chain, not the ED Hamiltonian's J1.

    Args:
        ed_data: :func:`chain_ed` result (or its JSON round trip) with alpha_c in the
            alpha grid of some N.
        dist: ptilde family.
        average: "all" or "middle" ED eigenstate average to fit to.
        max_iter: L-BFGS iteration limit of each fit.

    Returns:
        :class:`BareCouplingFit`.
    """
    check_dist(dist)
    check_choice("average", average, ("all", "middle"))
    Ns, y, e = _ed_at_alpha_c(ed_data, average)
    e = np.where(np.isfinite(e) & (e > 0), e, np.nanmax(np.r_[e[np.isfinite(e)], 1e-3]))
    res = _alpha_c_residuals(tuple(Ns), dist)
    per = least_squares(res, np.full(len(Ns), np.log(0.5)), y, e, max_iter=max_iter)
    shared = least_squares(res, [np.mean(per.params)], y, e, max_iter=max_iter)
    g_per, g10 = np.exp(per.params), float(np.exp(shared.params[0]))
    return BareCouplingFit(
        dist=dist,
        average=average,
        Ns=Ns,
        ed=y,
        ed_err=e,
        g10=g10,
        g10_err=g10 * float(shared.errors[0]),
        chi2=shared.chi2,
        mf_at_fit=shared.residuals * e + y,
        g10_per_N=g_per,
        g10_per_N_err=g_per * per.errors,
        converged=per.converged and shared.converged,
        iterations=(per.iterations, shared.iterations),
    )


# ------------------------------------------------------------------- curves, distributions
def _plain_chains(ed_data):
    """ed_data as plain dicts, without the raw entropies (for figures and JSON)."""
    return dict(
        params=dict(_get(ed_data, "params")),
        chains=[
            {
                k: v
                for k, v in (c._asdict() if hasattr(c, "_asdict") else c).items()
                if k != "entropies"
            }
            for c in _get(ed_data, "chains")
        ],
    )


def end_entropy_curves(
    ed_data, dist: str = "goe", *, average: str = "all", alpha_fine=None
) -> dict:
    """ED [S_end] vs alpha with the mean-field curves for the fitted g10.

    Args:
        ed_data: :func:`chain_ed` result (alpha_c must be in the grid).
        dist: ptilde family of the mean-field theory.
        average: ED eigenstate average the fit uses ("all" or "middle").
        alpha_fine: alpha grid of the mean-field curves (default 0.3 .. 1.1).

    Returns:
        dict (figure data): dist, average, alpha_c; ed (ed_data as plain dicts, without
        raw entropies); fit (:func:`fit_bare_coupling` as a dict), fit_other (the same
        fitted to the other eigenstate average); mf = one dict per N with alpha (fine
        grid), S_end (shared g10), S_end_per_N (that N's own g10, None without an
        alpha_c point), S_end_at_ed (at the ED alphas, shared g10), S_end_other_fit (at
        the ED alphas, the shared g10 fitted to the other average).
    """
    check_dist(dist)
    alpha_fine = np.asarray(np.linspace(0.3, 1.1, 161) if alpha_fine is None else alpha_fine, float)
    fit = fit_bare_coupling(ed_data, dist, average)
    fit_other = fit_bare_coupling(ed_data, dist, "middle" if average == "all" else "all")
    own = dict(zip(fit.Ns, fit.g10_per_N))
    n = len(alpha_fine)
    mf = []
    for rec in _get(ed_data, "chains"):
        N = int(_get(rec, "N"))
        a = np.asarray(_get(rec, "alphas"), float)
        # one solve per N: rows = (shared, own N, other-average) g10, columns = alphas
        g10s = np.array([fit.g10, own.get(N, fit.g10), fit_other.g10])[:, None]
        S = np.asarray(
            mf_end_entropy(N, np.broadcast_to(np.r_[alpha_fine, a], (3, n + len(a))), g10s, dist)
        )
        mf.append(
            dict(
                N=N,
                alpha=alpha_fine,
                S_end=S[0, :n],
                S_end_per_N=S[1, :n] if N in own else None,
                S_end_at_ed=S[0, n:],
                S_end_other_fit=S[2, n:],
            )
        )
    return dict(
        dist=dist,
        average=average,
        alpha_c=ALPHA_C,
        ed=_plain_chains(ed_data),
        fit=fit._asdict(),
        fit_other=fit_other._asdict(),
        mf=mf,
    )


_entropy_pdf_jit = jax.jit(entropy_pdf, static_argnums=2)


def end_entropy_distributions(
    N: int = 8,
    alphas=(0.45, 0.55, 0.65),
    n_samples: int = 40,
    *,
    g10,
    key,
    dist: str = "goe",
    bins: int = 40,
    n_boot: int = 200,
    n_bins: int = 20,
    S_grid=None,
    ed_data=None,
    **params,
) -> dict:
    """p(S_end) from ED vs the mean-field p_S(S | g_N) at a few alpha.

    Mean field predicts for the end l-bit p_S(S | g_N) (A12) at its self-consistent g_N
    (eq. 11) with the fitted g10. Also given: p_S at the g whose [S](g) equals the ED
    mean at that alpha (a test of the shape alone: distributions compared at equal
    [S_end], as the paper does).

    Args:
        N: chain length.
        alphas: coupling decays.
        n_samples: ED realizations per alpha (same realizations for every alpha).
        g10: fitted reduced coupling g_{1,0} (from :func:`fit_bare_coupling`).
        key: JAX PRNG key, keyword-only (same convention as :func:`chain_ed`; also
            seeds the bootstrap); an int seed is converted with ``jax.random.key``.
        dist: ptilde family.
        bins: histogram bins on [0, log 2].
        n_boot, n_bins: bootstrap replicates and TV bins of the distances.
        S_grid: entropies where the mean-field density is tabulated.
        ed_data: a :func:`chain_ed` result with keep_entropies for this N and these
            alphas, to reuse instead of running ED again.
        **params: ED parameters (J1 is the Hamiltonian's coupling, an energy).

    Returns:
        dict (figure data): params; alphas; ed_mean, ed_err (all states); g_N, mf_mean
        ([S](g_N)); g_match; hist_edges, ed_density, ed_stderr (n_alpha, bins);
        mf_bin_density and match_bin_density (bin averages of p_S, from the exact
        CDF); S_grid, mf_density, match_density (n_alpha, len(S_grid)); ks, ks_err, tv,
        tv_err (ED vs MF at g_N), ks_match, ks_match_err, tv_match, tv_match_err (ED vs
        p_S at g_match); seconds.
    """
    check_dist(dist)
    S_grid = np.asarray(np.linspace(0.0, LOG2, 401)[1:-1] if S_grid is None else S_grid, float)
    t0 = time.perf_counter()
    if ed_data is None:
        ed_data = chain_ed(
            (N,), alphas, n_samples, key=key, bins=bins, keep_entropies=True, **params
        )
    rec = next(c for c in ed_data.chains if c.N == N)
    if rec.entropies is None:
        raise ValueError("ed_data must be run with keep_entropies=True")
    idx = [int(np.flatnonzero(np.isclose(rec.alphas, a, atol=1e-9))[0]) for a in alphas]
    t_ed = time.perf_counter() - t0
    edges = np.asarray(rec.hist_edges)
    g_N = mf_end_coupling(N, np.asarray(alphas, float), g10, dist)
    out = {
        k: []
        for k in (
            "ed_mean",
            "ed_err",
            "g_match",
            "mf_bin_density",
            "match_bin_density",
            "mf_density",
            "match_density",
            "ks",
            "ks_err",
            "tv",
            "tv_err",
            "ks_match",
            "ks_match_err",
            "tv_match",
            "tv_match_err",
        )
    }
    for j, i in enumerate(idx):
        S = np.asarray(rec.entropies[i])
        d = distribution_distance(S, dist, g=g_N[j], key=key, n_boot=n_boot, n_bins=n_bins)
        m = distribution_distance(S, dist, key=key, n_boot=n_boot, n_bins=n_bins)
        for name, v in (
            ("ed_mean", rec.mean_all[i]),
            ("ed_err", rec.stderr_all[i]),
            ("g_match", m.g),
            ("ks", d.ks),
            ("ks_err", d.ks_err),
            ("tv", d.tv),
            ("tv_err", d.tv_err),
            ("ks_match", m.ks),
            ("ks_match_err", m.ks_err),
            ("tv_match", m.tv),
            ("tv_match_err", m.tv_err),
        ):
            out[name].append(float(v))
        for tag, g in (("mf", g_N[j]), ("match", m.g)):
            out[f"{tag}_bin_density"].append(np.diff(entropy_cdf(edges, g, dist)) / np.diff(edges))
            out[f"{tag}_density"].append(np.asarray(_entropy_pdf_jit(S_grid, float(g), dist)))
    arrays: dict[str, Any] = {k: np.asarray(v) for k, v in out.items()}
    arrays.update(
        params={
            **ed_data.params,
            **dict(
                N=N,
                n_samples=int(rec.n_samples),
                dist=dist,
                g10=float(g10),
                n_boot=n_boot,
                n_bins=n_bins,
            ),
        },
        alphas=np.asarray(alphas, float),
        g_N=g_N,
        mf_mean=np.asarray(mean_entropy(jnp.asarray(g_N), dist)),
        hist_edges=edges,
        ed_density=np.asarray(rec.hist_density)[idx],
        ed_stderr=np.asarray(rec.hist_stderr)[idx],
        S_grid=S_grid,
        seconds=dict(ed=t_ed, total=time.perf_counter() - t0),
    )
    return arrays
