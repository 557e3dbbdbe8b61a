"""Mean-field theory checked against exact diagonalization (Sec. VI, Fig. 2).

Two checks, both on the central-grain model of :mod:`jaxmf.models.ed`:

1. One l-bit (N = 1), where the theory is claimed exact. Fit the reduced coupling g
   to ED's mean eigenstate entropy, [S](g) = [S]_ED (A13), then compare the whole ED
   distribution of eigenstate entropies with p_S(S | g) (A12) for each ptilde family.
2. The DRH chain (eq. 12). ED gives [S_end] vs alpha for several N; mean field gives
   [S_N] = [S](g_N) with g_N from the self-consistent equations (11) for
   g_{n,0} = g_{1,0} alpha^(n-1). g_{1,0} is fitted so that the two agree at
   alpha = alpha_c (Sec. VI); then the whole curves (Fig. 2a) and the distributions
   p(S_end) at a few alpha (Fig. 2b) are compared.

Distances between an ED sample of entropies and p_S(S | g) use that S(g_a) is
increasing: the CDF of S is F(g_a(S) / g), F the ptilde CDF. Every ED entropy is mapped
to u = F(g_a(S) / g), which is uniform on [0, 1] if ED follows the theory, and

    KS = sup |ECDF(u) - u|,   TV = (1/2) sum_k |n_k / n - 1/K|

(TV on K bins that are equally probable under the theory). Errors come from a
bootstrap over realizations (eigenstates of one realization are correlated,
realizations are independent); a null value from synthetic samples of p_S of the
same size shows the finite-sample floor.

Randomness: realization i of an N-spin chain uses fold_in(fold_in(key, N), i), the
same for every alpha (common random numbers: curves vs alpha are smooth, pointwise
errors are honest) and the same whatever n_samples is (a larger run extends a smaller).

All entropies are in nats. Every result is a plain dict of numpy arrays and numbers
that carries its parameters; :func:`save_json` / :func:`load_json` store it.
"""

from __future__ import annotations

import functools
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from .. import _config  # noqa: F401  (float64)
from .._checks import LOG2, check_dist
from ..enhancement import entropy_pdf, inverse_entropy, mean_entropy
from ..meanfield import mean_entropies, solve
from ..models import ed
from ..models.chain import ALPHA_C, drh_log_couplings
from ..resonance import DISTRIBUTIONS, entropy, family

__all__ = [
    "ALPHA_C",
    "SINGLE_SPIN_CASES",
    "QUICK",
    "FULL",
    "fit_coupling",
    "entropy_cdf",
    "distribution_distance",
    "sample_entropies",
    "single_spin_check",
    "single_spin_data",
    "chain_ed",
    "mf_end_entropy",
    "fit_bare_coupling",
    "fig2a_data",
    "fig2b_data",
    "fig2_data",
    "plot_single_spin",
    "plot_fig2a",
    "plot_fig2b",
    "save_json",
    "load_json",
]


# Regimes of the single-spin check (keyword arguments of `single_spin_check`):
# the paper's grain and coupling; the paper's grain at weak coupling (bimodal p_S);
# a larger grain at weak and intermediate coupling, middle of the spectrum, where the
# bath is closest to what the theory assumes (dense GOE levels, flat local density).
SINGLE_SPIN_CASES = {
    "paper": dict(d_g=8, J1=0.41, middle_fraction=None),
    "paper_grain_weak": dict(d_g=8, J1=0.03, middle_fraction=None),
    "paper_grain_weak_middle": dict(d_g=8, J1=0.03, middle_fraction=1 / 3),
    "large_grain_weak": dict(d_g=64, J1=0.01, middle_fraction=0.2),
    "large_grain_intermediate": dict(d_g=64, J1=0.03, middle_fraction=0.2),
    "large_grain_strong": dict(d_g=64, J1=0.1, middle_fraction=0.2),
}

_FULL_ALPHAS = tuple(sorted({*np.round(np.arange(0.40, 1.001, 0.05), 2), ALPHA_C}))
# Sizes of the Fig. 2 data: QUICK runs in about a minute on a 2-core CPU; FULL is the
# paper's range with fewer N = 9 samples and no N = 10 (ED cost ~0.05, 0.3, 1.9, 11,
# 100 s per realization for N = 6, 7, 8, 9, 10 on one core), about 40 minutes.
# Fig. 2(b) reuses the Fig. 2(a) realizations of its N.
QUICK = dict(
    single_spin={name: dict(n_samples=400, n_boot=100, n_null=5, **SINGLE_SPIN_CASES[name])
                 for name in ("paper", "large_grain_weak")},
    fig2a=dict(Ns=(6, 7, 8), alphas=(0.45, 0.55, 0.65, ALPHA_C, 0.8, 0.9),
               n_samples={6: 12, 7: 6, 8: 3}),
    fig2b=dict(N=8, alphas=(0.45, 0.55, 0.65), n_samples=3, n_boot=50),
)
FULL = dict(
    single_spin={name: dict(n_samples=2000, n_boot=200, n_null=20, **case)
                 for name, case in SINGLE_SPIN_CASES.items()},
    fig2a=dict(Ns=(6, 7, 8, 9),
               alphas={6: _FULL_ALPHAS, 7: _FULL_ALPHAS, 8: _FULL_ALPHAS,
                       9: (0.45, 0.55, 0.65, ALPHA_C, 0.8, 0.9)},
               n_samples={6: 200, 7: 100, 8: 40, 9: 6}),
    fig2b=dict(N=8, alphas=(0.45, 0.55, 0.65), n_samples=40, n_boot=200),
)


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------


def _as_key(key):
    """A typed JAX key from an int seed or a key."""
    if isinstance(key, (int, np.integer)):
        return jax.random.key(int(key))
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)
    return key


def _sample_keys(key, n_samples: int, label: int):
    """Keys fold_in(fold_in(key, label), i), i < n_samples: stable under growing n."""
    base = jax.random.fold_in(_as_key(key), label)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(n_samples))


def _per_n(value, N, name):
    """value[N] for a dict, else the value itself."""
    if isinstance(value, dict):
        if N not in value:
            raise ValueError(f"{name} has no entry for N = {N}")
        return value[N]
    return value


def _to_builtin(x, digits=None):
    if isinstance(x, dict):
        return {str(k): _to_builtin(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_builtin(v, digits) for v in x]
    if isinstance(x, (np.ndarray, jax.Array)):
        a = np.asarray(x)
        if digits is not None and np.issubdtype(a.dtype, np.floating):
            return np.vectorize(lambda v: _round(v, digits), otypes=[object])(a).tolist()
        return a.tolist()
    if isinstance(x, (float, np.floating)):
        return _round(float(x), digits) if digits is not None else float(x)
    if isinstance(x, np.generic):
        return x.item()
    return x


def _round(v, digits):
    return float(f"{v:.{digits}g}")


def save_json(data: dict, path, digits: int | None = None) -> None:
    """Write a result dict to a JSON file (numpy arrays become lists; NaN is kept).

    Args:
        data: a result of this module.
        path: file name.
        digits: round floats to this many significant digits (None keeps all).
    """
    with open(path, "w") as fh:
        json.dump(_to_builtin(data, digits), fh, indent=1)


def load_json(path) -> dict:
    """Read a result dict written by :func:`save_json` (lists stay lists)."""
    with open(path) as fh:
        return json.load(fh)


# ---------------------------------------------------------------------------------
# single l-bit: coupling fit and distances between distributions
# ---------------------------------------------------------------------------------

_LOG_G_GRID = np.linspace(np.log(1e-9), np.log(1e5), 1401)


@functools.lru_cache(maxsize=None)
def _mean_entropy_table(dist: str) -> np.ndarray:
    return np.asarray(mean_entropy(jnp.exp(jnp.asarray(_LOG_G_GRID)), dist))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _newton_log_g(l, target, dist, steps):
    f = lambda ll: mean_entropy(jnp.exp(ll), dist)  # noqa: E731
    for _ in range(steps):
        val, slope = jax.jvp(f, (l,), (jnp.ones_like(l),))
        l = l - (val - target) / slope
    return l


def fit_coupling(mean_S, dist: str = "goe"):
    """Invert the mean entropy: g with [S](g) = mean_S (A13); vectorized.

    [S](g) increases from 0 to log 2, so the root is unique: a start from a dense
    table in log g, then three Newton steps on log g (relative error ~1e-12).

    Args:
        mean_S: target mean entropies (nats) in [0, log 2), any shape.
        dist: ptilde family.

    Returns:
        numpy array of g, same shape (0 where mean_S = 0).
    """
    check_dist(dist)
    target = np.asarray(mean_S, dtype=float)
    if np.isnan(target).any() or (target < 0).any() or (target >= LOG2).any():
        raise ValueError(f"mean_S must lie in [0, log 2); got {mean_S!r}")
    table = _mean_entropy_table(dist)
    pos = target > 0
    t = np.where(pos, np.clip(target, table[0], table[-1]), table[0])
    l0 = np.interp(t, table, _LOG_G_GRID)
    l = np.asarray(_newton_log_g(jnp.asarray(l0), jnp.asarray(t), dist, 3))
    return np.where(pos, np.exp(l), 0.0)


_inverse_entropy_jit = jax.jit(inverse_entropy)


def _resonance_strength(S):
    """numpy g_a(S) for ED entropies (any shape)."""
    return np.asarray(_inverse_entropy_jit(jnp.asarray(S, jnp.float64)))


def entropy_cdf(S, g, dist: str = "goe"):
    """CDF of the eigenstate entropy, P(S_a <= S | g) = F(g_a(S) / g) (A3, A12).

    Args:
        S: entropies (nats), any shape.
        g: reduced coupling(s) > 0, broadcastable against S.
        dist: ptilde family.

    Returns:
        numpy array in [0, 1], broadcast shape.
    """
    check_dist(dist)
    ga = _resonance_strength(np.clip(S, 0.0, LOG2))
    return _family_cdf(ga, g, dist)


@functools.partial(jax.jit, static_argnums=1)
def _cdf_jit(x, dist):
    return family(dist).cdf(x)


@functools.partial(jax.jit, static_argnums=2)
def _sample_jit(u, g, dist):
    return entropy(g * family(dist).quantile(u))


_entropy_pdf_jit = jax.jit(entropy_pdf, static_argnums=2)


def _family_cdf(ga, g, dist):
    x = np.asarray(ga, float) / np.asarray(g, float)
    F = np.asarray(_cdf_jit(jnp.asarray(np.where(np.isfinite(x), x, 1.0)), dist))
    return np.where(np.isinf(x), 1.0, F)


def _ks_tv(u_sorted, weights, n_bins):
    """KS and binned TV of weighted samples u (sorted along the last axis) vs uniform.

    Args:
        u_sorted: (B, n) values in [0, 1], sorted along the last axis.
        weights: (B, n) nonnegative weights (bootstrap multiplicities).
        n_bins: K equiprobable bins for TV.
    """
    w = weights / weights.sum(axis=-1, keepdims=True)
    cw = np.cumsum(w, axis=-1)
    ks = np.maximum(np.max(cw - u_sorted, axis=-1), np.max(u_sorted - (cw - w), axis=-1))
    k = np.clip((u_sorted * n_bins).astype(int), 0, n_bins - 1)
    counts = np.zeros(u_sorted.shape[:-1] + (n_bins,))
    np.add.at(counts, (np.arange(len(k))[:, None], k), w)
    tv = 0.5 * np.sum(np.abs(counts - 1.0 / n_bins), axis=-1)
    return ks, tv


def distribution_distance(entropies, dist: str = "goe", g=None, *, n_boot: int = 200,
                          n_bins: int = 20, key=0) -> dict:
    """Distances between ED eigenstate entropies and p_S(S | g) (A12), with errors.

    Args:
        entropies: (n_samples, M) entropies (nats), one row per realization.
        dist: ptilde family.
        g: reduced coupling of the theory; None fits it to the sample mean
            ([S](g) = mean, refitted in every bootstrap replicate).
        n_boot: bootstrap replicates over realizations (rows).
        n_bins: equiprobable bins for TV.
        key: seed of the bootstrap.

    Returns:
        dict with g, ks, tv (point values), ks_err, tv_err (bootstrap std), ks_boot,
        tv_boot (the replicates), mean (sample mean) and the settings.
    """
    check_dist(dist)
    S = np.asarray(entropies, float)
    if S.ndim != 2:
        raise ValueError(f"entropies must have shape (n_samples, M); got {S.shape}")
    n, M = S.shape
    rng = np.random.default_rng(np.asarray(jax.random.key_data(_as_key(key))).ravel().tolist())
    counts = np.ones((1, n))
    if n_boot > 0:
        idx = rng.integers(0, n, size=(n_boot, n))
        boot = np.stack([np.bincount(r, minlength=n) for r in idx]).astype(float)
        counts = np.concatenate([counts, boot])
    means = counts @ S.mean(axis=1) / n  # (1 + B,)
    fitted = g is None
    gs = fit_coupling(means, dist) if fitted else np.full(len(means), float(g))
    ga = _resonance_strength(S.ravel())
    order = np.argsort(ga, kind="stable")
    ga = ga[order]
    w = np.repeat(counts, M, axis=1)[:, order]
    u = _family_cdf(ga[None, :], gs[:, None], dist)
    ks, tv = _ks_tv(u, w, n_bins)
    # one realization: resampling rows cannot measure its error
    sd = lambda a: float(np.std(a, ddof=1)) if len(a) > 1 and n > 1 else float("nan")  # noqa: E731
    return dict(dist=dist, g=float(gs[0]), g_fitted=fitted, mean=float(means[0]),
                ks=float(ks[0]), tv=float(tv[0]), ks_err=sd(ks[1:]), tv_err=sd(tv[1:]),
                ks_boot=ks[1:], tv_boot=tv[1:], n_boot=n_boot, n_bins=n_bins,
                n_samples=n, n_per_sample=M)


def sample_entropies(g, shape, dist: str = "goe", key=0):
    """Eigenstate entropies drawn from p_S(S | g): S = S(g x), x = ptilde quantile(u).

    Args:
        g: reduced coupling > 0.
        shape: output shape, e.g. (n_samples, M).
        dist: ptilde family.
        key: seed.

    Returns:
        numpy array of entropies (nats).
    """
    check_dist(dist)
    u = jax.random.uniform(_as_key(key), tuple(shape), dtype=jnp.float64)
    return np.asarray(_sample_jit(u, jnp.asarray(g, jnp.float64), dist))


def _null_distance(g, shape, dist, n_null, n_bins, key):
    """KS / TV of n_null synthetic samples of p_S(S|g), g refitted to each sample."""
    out = [distribution_distance(sample_entropies(g, shape, dist, jax.random.fold_in(key, i)),
                                 dist, n_boot=0, n_bins=n_bins) for i in range(n_null)]
    ks = np.array([o["ks"] for o in out])
    tv = np.array([o["tv"] for o in out])
    return ks, tv


def _log_bins(n_bins, S_min):
    return np.geomspace(S_min, LOG2, n_bins + 1)


def single_spin_check(n_samples: int = 2000, *, J1=0.41, d_g: int = 8,
                      middle_fraction=None, dists=DISTRIBUTIONS, n_boot: int = 200,
                      n_null: int = 10, n_bins: int = 20, hist_bins: int = 40,
                      hist_S_min: float = 1e-6, key=0, **params) -> dict:
    """The N = 1 check: ED eigenstate entropies of the one l-bit vs p_S(S | g_fit).

    For each family, g is fitted to ED's mean entropy ([S](g) = [S]_ED) and the whole
    ED distribution is compared with p_S(S | g) by KS and TV distances (module doc).

    Args:
        n_samples: ED realizations (dimension 2 d_g each).
        J1: coupling J_1 of the spin to the grain.
        d_g: grain dimension (power of 2).
        middle_fraction: keep only this middle fraction of each spectrum (by energy
            rank; None keeps all eigenstates).
        dists: families to compare.
        n_boot: bootstrap replicates (over realizations) for the errors.
        n_null: synthetic samples from p_S(S | g_fit) for the finite-sample floor.
        n_bins: equiprobable bins of the TV distance.
        hist_bins, hist_S_min: log-spaced bins on [hist_S_min, log 2] for the stored
            histogram (entropies below hist_S_min are counted in the first bin).
        key: seed (int or JAX key).
        **params: other ED parameters (grain_rms, h_mean, h_width, grain_norm).

    Returns:
        dict: params; ed_mean, ed_stderr (over realizations); per family
        families[dist] = {g, ks, ks_err, tv, tv_err, ks_null, ks_null_err, tv_null,
        tv_null_err}; ks_diff (goe - poisson) with paired bootstrap error; best (family
        with the smaller KS); histogram: edges, ed density per unit ln S and the
        theory's (bin-averaged, from the exact CDF) for each family; seconds.
    """
    t0 = time.perf_counter()
    key = _as_key(key)
    keys = _sample_keys(key, n_samples, 1)
    res = ed.drh_ensemble(1, 0.5, keys, J1=J1, d_g=d_g, **params)
    S = np.asarray(res.entropy)
    if middle_fraction is not None:
        S = S[:, ed.middle_slice(S.shape[1], middle_fraction)]
    t_ed = time.perf_counter() - t0
    per = S.mean(axis=1)
    edges = _log_bins(hist_bins, hist_S_min)
    dlog = np.diff(np.log(edges))
    flat = np.clip(S.ravel(), hist_S_min, LOG2)
    ed_density = np.histogram(flat, bins=edges)[0] / flat.size / dlog
    out = dict(
        params=dict(N=1, n_samples=n_samples, J1=J1, d_g=d_g, middle_fraction=middle_fraction,
                    n_boot=n_boot, n_null=n_null, n_bins=n_bins, states_per_sample=S.shape[1],
                    **{**{k: v for k, v in ed.DEFAULTS.items() if k not in ("J1", "d_g")},
                       **params}),
        ed_mean=float(per.mean()), ed_stderr=float(per.std(ddof=1) / np.sqrt(n_samples)),
        families={}, histogram=dict(edges=edges, ed_density_per_lnS=ed_density, theory={}),
    )
    boot_key = jax.random.fold_in(key, 2)
    for dist in dists:
        d = distribution_distance(S, dist, n_boot=n_boot, n_bins=n_bins, key=boot_key)
        ks0, tv0 = _null_distance(d["g"], S.shape, dist, n_null, n_bins,
                                  jax.random.fold_in(key, 3))
        mean = lambda a: float(a.mean()) if len(a) else float("nan")  # noqa: E731
        sd = lambda a: float(a.std(ddof=1)) if len(a) > 1 else float("nan")  # noqa: E731
        out["families"][dist] = dict(
            g=d["g"], ks=d["ks"], ks_err=d["ks_err"], tv=d["tv"], tv_err=d["tv_err"],
            ks_null=mean(ks0), ks_null_err=sd(ks0), tv_null=mean(tv0), tv_null_err=sd(tv0),
            ks_boot=d["ks_boot"])
        F = entropy_cdf(edges, d["g"], dist)
        F[0] = 0.0  # the first bin also holds S < hist_S_min, as for ED
        out["histogram"]["theory"][dist] = np.diff(F) / dlog
    fams = out["families"]
    if {"goe", "poisson"} <= set(fams):
        diff = fams["goe"]["ks_boot"] - fams["poisson"]["ks_boot"]
        out["ks_diff"] = fams["goe"]["ks"] - fams["poisson"]["ks"]
        out["ks_diff_err"] = float(np.std(diff, ddof=1)) if len(diff) > 1 else np.nan
    out["best"] = min(fams, key=lambda d: fams[d]["ks"])
    for f in fams.values():
        del f["ks_boot"]
    out["seconds"] = dict(ed=t_ed, total=time.perf_counter() - t0)
    return out


def single_spin_data(quick: bool = True, key=0) -> dict:
    """The N = 1 check for the QUICK or FULL cases: {case name: single_spin_check(...)}.

    QUICK: the paper's parameters and the large-grain weak-coupling case (400
    realizations each); FULL: all of SINGLE_SPIN_CASES with 2000.
    """
    cfg = (QUICK if quick else FULL)["single_spin"]
    return {name: single_spin_check(key=key, **kw) for name, kw in cfg.items()}


# ---------------------------------------------------------------------------------
# the chain: ED and mean field
# ---------------------------------------------------------------------------------


def chain_ed(Ns=(6, 7, 8), alphas=(0.5, 0.6, ALPHA_C, 0.8, 0.9), n_samples=4, *, key=0,
             middle_fraction: float = 1 / 3, bins: int = 40, keep_entropies: bool = False,
             progress: bool = False, **params) -> dict:
    """ED of the DRH chain: end-spin entropy statistics for each N and alpha.

    Args:
        Ns: chain lengths.
        alphas: coupling decays, the same for all N, or a dict {N: alphas}.
        n_samples: realizations per (N, alpha), an int or a dict {N: int}. The same
            realizations (grain, fields) are used for every alpha of one N.
        key: seed (int or JAX key).
        middle_fraction: fraction of the spectrum (by rank) of the "middle" average.
        bins: bins of the sample-averaged histogram p(S_end) on [0, log 2].
        keep_entropies: also return the raw (n_alpha, n_samples, D) entropies.
        progress: print one line per (N, alpha).
        **params: ED parameters (J1, d_g, grain_rms, h_mean, h_width, grain_norm).

    Returns:
        dict: params; chains, a list with one dict per N: N, alphas, n_samples,
        mean_all, stderr_all, mean_middle, stderr_middle (n_alpha,),
        per_sample_all, per_sample_middle (n_alpha, n_samples), hist_edges (bins + 1,),
        hist_density, hist_stderr (n_alpha, bins), seconds_per_sample, seconds
        (and entropies if keep_entropies).
    """
    chains = []
    for N in Ns:
        a_N = np.asarray(_per_n(alphas, N, "alphas"), float)
        n_N = int(_per_n(n_samples, N, "n_samples"))
        keys = _sample_keys(key, n_N, N)
        t0 = time.perf_counter()
        rec = dict(N=int(N), alphas=a_N, n_samples=n_N)
        cols = {k: [] for k in ("mean_all", "stderr_all", "mean_middle", "stderr_middle",
                                "per_sample_all", "per_sample_middle", "hist_density",
                                "hist_stderr", "entropies")}
        for alpha in a_N:
            S = np.asarray(ed.drh_ensemble(N, float(alpha), keys, **params).entropy)
            st = ed.entropy_statistics(S, middle_fraction)
            edges, dens, err = ed.entropy_histogram(S, bins=bins)
            for name, v in (("mean_all", st.mean_all), ("stderr_all", st.stderr_all),
                            ("mean_middle", st.mean_middle),
                            ("stderr_middle", st.stderr_middle),
                            ("per_sample_all", st.per_sample_all),
                            ("per_sample_middle", st.per_sample_middle),
                            ("hist_density", dens), ("hist_stderr", err)):
                cols[name].append(np.asarray(v))
            if keep_entropies:
                cols["entropies"].append(S)
            if progress:
                print(f"ED N={N} alpha={alpha:.4f}: [S_end] = {float(st.mean_all):.4f} "
                      f"+- {float(st.stderr_all):.4f} ({time.perf_counter() - t0:.0f} s)",
                      flush=True)
        for name, v in cols.items():
            if v:
                rec[name] = np.stack(v)
        rec["hist_edges"] = edges
        rec["seconds"] = time.perf_counter() - t0
        rec["seconds_per_sample"] = rec["seconds"] / (n_N * len(a_N))
        chains.append(rec)
    return dict(params=dict(middle_fraction=middle_fraction, bins=bins,
                            **{**ed.DEFAULTS, **params}), chains=chains)


def mf_end_entropy(N: int, alpha, g10, dist: str = "goe"):
    """Mean-field [S_N] of the end l-bit of the DRH chain (eq. 11, 12, A13).

    Args:
        N: chain length.
        alpha: coupling decay(s), any shape.
        g10: bare coupling g_{1,0} of the first l-bit (scalar or broadcastable).
        dist: ptilde family.

    Returns:
        jax array [S](g_N), shape of alpha; differentiable in g10 and alpha.
    """
    return _mf_end_entropy(N, jnp.asarray(alpha, jnp.float64), jnp.asarray(g10, jnp.float64),
                           dist)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _mf_end_entropy(N, alpha, g10, dist):
    res = solve(drh_log_couplings(N, alpha, g10), dist, log_input=True)
    return mean_entropies(res, dist)[..., -1]


@functools.lru_cache(maxsize=None)
def _mf_value_and_slope(N, dist):
    """jit of log g10 -> ([S_N], d[S_N]/d log g10) at alpha_c (implicit derivative)."""
    return jax.jit(jax.value_and_grad(lambda lg: mf_end_entropy(N, ALPHA_C, jnp.exp(lg), dist)))


def _mf_end_coupling(N, alpha, g10, dist):
    res = solve(drh_log_couplings(N, alpha, g10), dist, log_input=True)
    return np.asarray(res.g[..., -1])


def _ed_at_alpha_c(ed_data, average):
    Ns, vals, errs = [], [], []
    for rec in ed_data["chains"]:
        a = np.asarray(rec["alphas"], float)
        i = np.flatnonzero(np.isclose(a, ALPHA_C, atol=1e-9))
        if len(i):
            Ns.append(int(rec["N"]))
            vals.append(float(np.asarray(rec[f"mean_{average}"])[i[0]]))
            errs.append(float(np.asarray(rec[f"stderr_{average}"])[i[0]]))
    if not Ns:
        raise ValueError("the ED data has no alpha = alpha_c = 1/sqrt(2) point to fit to")
    return Ns, np.array(vals), np.array(errs)


def fit_bare_coupling(ed_data: dict, dist: str = "goe", average: str = "all",
                      steps: int = 30) -> dict:
    """Fit g_{1,0} so that mean field and ED agree at alpha = alpha_c (Sec. VI).

    Per N: the root of [S_N](g_{1,0}; alpha_c) = [S_end]_ED (Newton in log g_{1,0},
    the derivative by implicit differentiation through :func:`jaxmf.solve`).
    Shared: one g_{1,0} for all N by weighted least squares,
    min sum_N ((MF_N - ED_N) / err_N)^2 (Gauss-Newton in log g_{1,0}, same derivatives).

    Args:
        ed_data: output of :func:`chain_ed` with alpha_c in the alpha grid of some N.
        dist: ptilde family.
        average: "all" or "middle" ED eigenstate average to fit to.
        steps: iteration limit.

    Returns:
        dict: dist, average, Ns, ed (values at alpha_c), ed_err, g10 (shared), g10_err
        (from the ED errors), chi2 (of the shared fit), mf_at_fit (MF_N at alpha_c with
        the shared g10), g10_per_N, g10_per_N_err.
    """
    check_dist(dist)
    if average not in ("all", "middle"):
        raise ValueError(f"average must be 'all' or 'middle'; got {average!r}")
    Ns, y, e = _ed_at_alpha_c(ed_data, average)
    e = np.where(np.isfinite(e) & (e > 0), e, np.nanmax(np.r_[e[np.isfinite(e)], 1e-3]))

    def value_and_slope(lg, N):
        return (float(v) for v in _mf_value_and_slope(N, dist)(jnp.asarray(lg)))

    per, per_err = [], []
    for N, yN, eN in zip(Ns, y, e):
        lg = float(np.log(0.5))
        for _ in range(steps):
            v, d = value_and_slope(lg, N)
            step = float(np.clip((v - yN) / d, -2.0, 2.0))
            lg -= step
            if abs(step) < 1e-12:
                break
        v, d = value_and_slope(lg, N)
        per.append(np.exp(lg))
        per_err.append(np.exp(lg) * eN / d)  # dg = g dlg, dlg = dS / (dS/dlg)

    lg = float(np.mean(np.log(per)))
    for _ in range(steps):
        vd = [tuple(value_and_slope(lg, N)) for N in Ns]
        r = (np.array([v for v, _ in vd]) - y) / e
        J = np.array([d for _, d in vd]) / e
        step = float(np.clip(np.dot(J, r) / np.dot(J, J), -2.0, 2.0))
        lg -= step
        if abs(step) < 1e-12:
            break
    vd = [tuple(value_and_slope(lg, N)) for N in Ns]
    r = (np.array([v for v, _ in vd]) - y) / e
    J = np.array([d for _, d in vd]) / e
    return dict(dist=dist, average=average, Ns=Ns, ed=y, ed_err=e, g10=float(np.exp(lg)),
                g10_err=float(np.exp(lg) / np.sqrt(np.dot(J, J))), chi2=float(np.dot(r, r)),
                mf_at_fit=np.array([v for v, _ in vd]),
                g10_per_N=np.array(per), g10_per_N_err=np.array(per_err))


def fig2a_data(ed_data: dict, dist: str = "goe", *, average: str = "all",
               alpha_fine=None) -> dict:
    """Fig. 2(a): ED [S_end] vs alpha with the mean-field curves for fitted g_{1,0}.

    Args:
        ed_data: output of :func:`chain_ed` (alpha_c must be in the grid).
        dist: ptilde family of the mean-field theory.
        average: ED eigenstate average the fit uses ("all" or "middle").
        alpha_fine: alpha grid of the mean-field curves (default 0.3 .. 1.1).

    Returns:
        dict: ed (ed_data without raw entropies), fit (see :func:`fit_bare_coupling`),
        fit_middle (the same fitted to the middle-third average), mf = one dict per N
        with alpha (fine grid), S_end (shared g10), S_end_per_N (that N's own g10),
        S_end_at_ed (at the ED alphas, shared g10), S_end_other_fit (at the ED alphas,
        with the shared g10 fitted to the other eigenstate average).
    """
    check_dist(dist)
    if alpha_fine is None:
        alpha_fine = np.linspace(0.3, 1.1, 161)
    alpha_fine = np.asarray(alpha_fine, float)
    fit = fit_bare_coupling(ed_data, dist, average)
    other = "middle" if average == "all" else "all"
    fit_other = fit_bare_coupling(ed_data, dist, other)
    per_N = dict(zip(fit["Ns"], fit["g10_per_N"]))
    mf = []
    for rec in ed_data["chains"]:
        N = int(rec["N"])
        a = np.asarray(rec["alphas"], float)
        # one solve per N: rows = (shared, own N, other-average) g10, columns = alphas
        g10s = np.array([fit["g10"], per_N.get(N, fit["g10"]), fit_other["g10"]])[:, None]
        S = np.asarray(mf_end_entropy(N, np.broadcast_to(np.r_[alpha_fine, a], (3, len(
            alpha_fine) + len(a))), g10s, dist))
        n = len(alpha_fine)
        mf.append(dict(N=N, alpha=alpha_fine, S_end=S[0, :n],
                       S_end_per_N=S[1, :n] if N in per_N else None,
                       S_end_at_ed=S[0, n:], S_end_other_fit=S[2, n:]))
    ed_clean = dict(params=ed_data["params"],
                    chains=[{k: v for k, v in c.items() if k != "entropies"}
                            for c in ed_data["chains"]])
    return dict(dist=dist, average=average, alpha_c=ALPHA_C, ed=ed_clean, fit=fit,
                fit_other=fit_other, mf=mf)


def fig2b_data(N: int = 8, alphas=(0.45, 0.55, 0.65), n_samples: int = 40, *, g10,
               dist: str = "goe", key=0, bins: int = 40, n_boot: int = 200,
               n_bins: int = 20, S_grid=None, ed_data: dict | None = None,
               **params) -> dict:
    """Fig. 2(b): p(S_end) from ED vs the mean-field p_S(S | g_N) at a few alpha.

    Mean field predicts for the end l-bit p_S(S | g_N) (A12) at its self-consistent g_N
    (eq. 11) with the fitted g_{1,0}. Also given: p_S at the g whose [S](g) equals the
    ED mean at that alpha (a test of the shape alone, as the paper's Fig. 2b compares
    distributions at equal [S_end]).

    Args:
        N: chain length.
        alphas: coupling decays.
        n_samples: ED realizations per alpha (same realizations for every alpha).
        g10: fitted g_{1,0} (from :func:`fit_bare_coupling`).
        dist: ptilde family.
        key: seed (same convention as :func:`chain_ed`).
        bins: histogram bins on [0, log 2].
        n_boot, n_bins: bootstrap replicates and TV bins of the distances.
        S_grid: entropies where the mean-field density is tabulated.
        ed_data: a :func:`chain_ed` result with keep_entropies for this N and these
            alphas, to reuse instead of running ED again.
        **params: ED parameters.

    Returns:
        dict: params; alphas; ed_mean, ed_err (all states); g_N, mf_mean ([S](g_N));
        g_match; hist_edges, ed_density, ed_stderr (n_alpha, bins); mf_bin_density and
        match_bin_density (bin averages of p_S, from the exact CDF); S_grid, mf_density,
        match_density (n_alpha, len(S_grid)); ks, ks_err, tv, tv_err (ED vs MF at g_N),
        ks_match, ks_match_err, tv_match, tv_match_err (ED vs p_S at g_match).
    """
    check_dist(dist)
    if S_grid is None:
        S_grid = np.linspace(0.0, LOG2, 401)[1:-1]
    S_grid = np.asarray(S_grid, float)
    t0 = time.perf_counter()
    if ed_data is None:
        ed_data = chain_ed((N,), alphas, n_samples, key=key, bins=bins,
                           keep_entropies=True, **params)
    rec = next(c for c in ed_data["chains"] if int(c["N"]) == N)
    idx = [int(np.flatnonzero(np.isclose(rec["alphas"], a, atol=1e-9))[0]) for a in alphas]
    t_ed = time.perf_counter() - t0
    edges = np.asarray(rec["hist_edges"])
    g_N = _mf_end_coupling(N, np.asarray(alphas, float), g10, dist)
    out = {k: [] for k in ("ed_mean", "ed_err", "g_match", "mf_bin_density",
                           "match_bin_density", "mf_density", "match_density", "ks",
                           "ks_err", "tv", "tv_err", "ks_match", "ks_match_err",
                           "tv_match", "tv_match_err")}
    for j, i in enumerate(idx):
        S = np.asarray(rec["entropies"][i])
        d = distribution_distance(S, dist, g=g_N[j], n_boot=n_boot, n_bins=n_bins, key=key)
        m = distribution_distance(S, dist, n_boot=n_boot, n_bins=n_bins, key=key)
        for name, v in (("ed_mean", rec["mean_all"][i]), ("ed_err", rec["stderr_all"][i]),
                        ("g_match", m["g"]), ("ks", d["ks"]), ("ks_err", d["ks_err"]),
                        ("tv", d["tv"]), ("tv_err", d["tv_err"]), ("ks_match", m["ks"]),
                        ("ks_match_err", m["ks_err"]), ("tv_match", m["tv"]),
                        ("tv_match_err", m["tv_err"])):
            out[name].append(float(v))
        for tag, g in (("mf", g_N[j]), ("match", m["g"])):
            out[f"{tag}_bin_density"].append(np.diff(entropy_cdf(edges, g, dist))
                                             / np.diff(edges))
            out[f"{tag}_density"].append(np.asarray(_entropy_pdf_jit(S_grid, float(g), dist)))
    out = {k: np.asarray(v) for k, v in out.items()}
    out.update(
        params={**ed_data["params"], **dict(N=N, n_samples=int(rec["n_samples"]),
                                            dist=dist, g10=float(g10), n_boot=n_boot,
                                            n_bins=n_bins)},
        alphas=np.asarray(alphas, float), g_N=g_N,
        mf_mean=np.asarray(mean_entropy(jnp.asarray(g_N), dist)),
        hist_edges=edges, ed_density=np.asarray(rec["hist_density"])[idx],
        ed_stderr=np.asarray(rec["hist_stderr"])[idx], S_grid=S_grid,
        seconds=dict(ed=t_ed, total=time.perf_counter() - t0))
    return out


def fig2_data(quick: bool = True, dist: str = "goe", key=0, progress: bool = False) -> dict:
    """Fig. 2 data (a and b) at the QUICK or FULL sizes; g_{1,0} of (b) from (a)'s fit.

    Returns:
        dict with fig2a (see :func:`fig2a_data`) and fig2b (see :func:`fig2b_data`).
    """
    cfg = QUICK if quick else FULL
    a, b = cfg["fig2a"], cfg["fig2b"]
    ed_a = chain_ed(a["Ns"], a["alphas"], a["n_samples"], key=key, progress=progress,
                    keep_entropies=True)
    data_a = fig2a_data(ed_a, dist)
    # (b) reuses (a)'s realizations when its N, alphas and sample count are there
    N = b["N"]
    reuse = (N in a["Ns"] and _per_n(a["n_samples"], N, "n_samples") == b["n_samples"]
             and all(np.isclose(_per_n(a["alphas"], N, "alphas"), x).any()
                     for x in b["alphas"]))
    data_b = fig2b_data(**b, g10=data_a["fit"]["g10"], dist=dist, key=key,
                        ed_data=ed_a if reuse else None)
    return dict(fig2a=data_a, fig2b=data_b)


# ---------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5.5, 4.0))
    return ax


def _g(d, k):
    """d[k] as a numpy array (works for fresh results and JSON-loaded ones)."""
    return np.asarray(d[k], dtype=float)


def plot_single_spin(data: dict, ax=None):
    """ED distribution of the N = 1 entropies vs p_S(S | g_fit) for each family.

    Density per unit ln S on a log S axis, so both the weak (S ~ g_a^2) and the
    resonant (S ~ log 2) eigenstates show.
    """
    ax = _axes(ax)
    h = data["histogram"]
    edges = _g(h, "edges")
    centers = np.sqrt(edges[1:] * edges[:-1])
    ax.plot(centers, _g(h, "ed_density_per_lnS"), "k+", ms=7, label="ED")
    styles = {"goe": "-", "poisson": "--"}
    for dist, dens in h["theory"].items():
        f = data["families"][dist]
        ax.step(edges, np.r_[dens, dens[-1]], where="post", ls=styles.get(dist, ":"),
                label=f"{dist}: g = {f['g']:.3g}, KS = {f['ks']:.3f}({1000 * f['ks_err']:.0f})")
    ax.set_xscale("log")
    # start the axis a decade below the first bin with visible weight
    dens = _g(h, "ed_density_per_lnS")
    first = np.flatnonzero(dens > 1e-3 * dens.max())
    if len(first):
        ax.set_xlim(max(edges[0], edges[first[0]] / 10), LOG2 * 1.2)
    ax.set_xlabel("eigenstate entropy S (nats)")
    ax.set_ylabel("S p(S)  (density per unit ln S)")
    p = data["params"]
    mid = "all states" if p["middle_fraction"] is None else f"middle {p['middle_fraction']:.2g}"
    ax.set_title(f"N = 1, d_g = {p['d_g']}, J_1 = {p['J1']}, {mid}: "
                 f"[S] = {data['ed_mean']:.3f} nats", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def plot_fig2a(data: dict, ax=None, inset: bool = True):
    """Fig. 2(a): [S_end] vs alpha, ED (points, errors over realizations) and mean field.

    Args:
        data: output of :func:`fig2a_data` (or its JSON round trip).
        ax: matplotlib axes (a new figure if None).
        inset: add the same data on a log scale as an inset.
    """
    ax = _axes(ax)
    import matplotlib.pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fit = data["fit"]
    avg = data["average"]

    def draw(a, small):
        for j, (rec, mf) in enumerate(zip(data["ed"]["chains"], data["mf"])):
            c = colors[j % len(colors)]
            a.errorbar(_g(rec, "alphas"), _g(rec, f"mean_{avg}"), _g(rec, f"stderr_{avg}"),
                       fmt="o", ms=3 if small else 4, color=c, capsize=2,
                       label=None if small else f"N = {rec['N']} ED (M = {rec['n_samples']})")
            a.plot(_g(mf, "alpha"), _g(mf, "S_end"), "-", color=c, lw=1)
        a.axvline(data["alpha_c"], color="gray", ls=":", lw=1)

    draw(ax, False)
    ax.axhline(LOG2, color="gray", ls="--", lw=0.8)
    ax.set_xlabel(r"$\alpha$")
    which = "all eigenstates" if avg == "all" else "middle third"
    ax.set_ylabel(r"$[S_{\rm end}]$ (nats)")
    ax.set_title(f"ED (points, {which}) vs mean field (lines, {data['dist']}); "
                 f"$g_{{1,0}}$ = {fit['g10']:.3f}", fontsize=9)
    a_all = np.concatenate([_g(r, "alphas") for r in data["ed"]["chains"]])
    ax.set_xlim(a_all.min() - 0.05, a_all.max() + 0.05)
    ax.set_ylim(0, 0.75)
    ax.legend(fontsize=7, loc="upper left")
    if inset:
        ins = ax.inset_axes([0.62, 0.08, 0.35, 0.38])
        draw(ins, True)
        ins.set_yscale("log")
        ins.set_xlim(*ax.get_xlim())
        ins.set_ylim(1e-3, 1)
        ins.tick_params(labelsize=6)
    return ax


def plot_fig2b(data: dict, ax=None, log: bool = True):
    """Fig. 2(b): p(S_end), ED ("+", sample-averaged) vs mean field p_S(S | g_N) (lines).

    Dashed: p_S at the g matching the ED mean (shape only). Log density axis by default
    because on the localized side almost all weight sits at S ~ 0.
    """
    ax = _axes(ax)
    import matplotlib.pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    edges = _g(data, "hist_edges")
    centers = 0.5 * (edges[1:] + edges[:-1])
    S_grid = _g(data, "S_grid")
    for j, alpha in enumerate(_g(data, "alphas")):
        c = colors[j % len(colors)]
        ax.plot(centers, _g(data, "ed_density")[j], "+", color=c, ms=7,
                label=(rf"$\alpha$ = {alpha:.2f}: ED {data['ed_mean'][j]:.3f}, "
                       f"MF {data['mf_mean'][j]:.3f}"))
        ax.plot(S_grid, _g(data, "mf_density")[j], "-", color=c, lw=1.2)
        ax.plot(S_grid, _g(data, "match_density")[j], "--", color=c, lw=0.8)
    p = data["params"]
    ax.set_xlabel(r"$S_{\rm end}$ (nats)")
    ax.set_ylabel(r"$p(S_{\rm end})$ (1/nat)")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(1e-2, None)
    ax.set_xlim(0, LOG2)
    ax.set_title(f"N = {p['N']}, ED (+, M = {p['n_samples']}) vs mean field "
                 f"({p['dist']}, $g_{{1,0}}$ = {p['g10']:.3f}; dashed: same mean)", fontsize=9)
    ax.legend(fontsize=7, title=r"$[S_{\rm end}]$ (nats)", title_fontsize=7)
    return ax
