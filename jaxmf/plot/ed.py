"""Figures of the ED comparison: the N = 1 check and Fig. 2(a), 2(b).

Each takes the data of :mod:`jaxmf.analysis.single_spin` /
:mod:`jaxmf.analysis.ed_compare` (fresh NamedTuples or dicts, or their JSON round
trip) and an optional Axes, and returns the Axes. Entropies are in nats on every axis.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._checks import LOG2
from ._axes import axes, pyplot

__all__ = ["plot_single_spin", "plot_fig2a", "plot_fig2b"]

_FIGSIZE = (5.5, 4.0)


def _get(d, k):
    """d[k] for dicts (also JSON-loaded), d.k for NamedTuples."""
    return d[k] if isinstance(d, Mapping) else getattr(d, k)


def _arr(d, k):
    return np.asarray(_get(d, k), dtype=float)


def _colors():
    return pyplot().rcParams["axes.prop_cycle"].by_key()["color"]


def plot_single_spin(data, ax=None):
    """ED distribution of the N = 1 entropies vs p_S(S | g_fit) for each family.

    Density per unit ln S on a log S axis, so both the weak (S ~ g_a^2) and the
    resonant (S ~ log 2) eigenstates show.

    Args:
        data: :func:`jaxmf.analysis.single_spin.single_spin_check` result.
        ax: matplotlib Axes (a new figure if None).
    """
    ax = axes(ax, figsize=_FIGSIZE)
    h = _get(data, "histogram")
    edges = _arr(h, "edges")
    centers = np.sqrt(edges[1:] * edges[:-1])
    dens = _arr(h, "ed_density_per_lnS")
    ax.plot(centers, dens, "k+", ms=7, label="ED")
    styles = {"goe": "-", "poisson": "--"}
    for dist, theory in _get(h, "theory").items():
        theory = np.asarray(theory, float)
        f = _get(data, "families")[dist]
        ax.step(
            edges,
            np.r_[theory, theory[-1]],
            where="post",
            ls=styles.get(dist, ":"),
            label=f"{dist}: g = {_get(f, 'g'):.3g}, "
            f"KS = {_get(f, 'ks'):.3f}({1000 * _get(f, 'ks_err'):.0f})",
        )
    ax.set_xscale("log")
    # start the axis a decade below the first bin with visible weight
    first = np.flatnonzero(dens > 1e-3 * dens.max())
    if len(first):
        ax.set_xlim(max(edges[0], edges[first[0]] / 10), LOG2 * 1.2)
    ax.set_xlabel("eigenstate entropy S (nats)")
    ax.set_ylabel("S p(S)  (density per unit ln S)")
    p = _get(data, "params")
    mid = "all states" if p["middle_fraction"] is None else f"middle {p['middle_fraction']:.2g}"
    ax.set_title(
        f"N = 1, d_g = {p['d_g']}, J_1 = {p['J1']}, {mid}: [S] = {_get(data, 'ed_mean'):.3f} nats",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return ax


def plot_fig2a(data, ax=None, inset: bool = True):
    """Fig. 2(a): [S_end] vs alpha, ED (points, errors over realizations) and mean field.

    Args:
        data: :func:`jaxmf.analysis.ed_compare.end_entropy_curves` result (or its JSON round
            trip).
        ax: matplotlib Axes (a new figure if None).
        inset: add the same data on a log scale as an inset.
    """
    ax = axes(ax, figsize=_FIGSIZE)
    colors = _colors()
    avg = data["average"]

    def draw(a, small):
        for j, (rec, mf) in enumerate(zip(data["ed"]["chains"], data["mf"])):
            c = colors[j % len(colors)]
            a.errorbar(
                _arr(rec, "alphas"),
                _arr(rec, f"mean_{avg}"),
                _arr(rec, f"stderr_{avg}"),
                fmt="o",
                ms=3 if small else 4,
                color=c,
                capsize=2,
                label=None if small else f"N = {rec['N']} ED (M = {rec['n_samples']})",
            )
            a.plot(_arr(mf, "alpha"), _arr(mf, "S_end"), "-", color=c, lw=1)
        a.axvline(data["alpha_c"], color="gray", ls=":", lw=1)

    draw(ax, False)
    ax.axhline(LOG2, color="gray", ls="--", lw=0.8)
    ax.set_xlabel(r"$\alpha$")
    which = "all eigenstates" if avg == "all" else "middle third"
    ax.set_ylabel(r"$[S_{\rm end}]$ (nats)")
    ax.set_title(
        f"ED (points, {which}) vs mean field (lines, {data['dist']}); "
        f"$g_{{1,0}}$ = {data['fit']['g10']:.3f}",
        fontsize=9,
    )
    a_all = np.concatenate([_arr(r, "alphas") for r in data["ed"]["chains"]])
    ax.set_xlim(a_all.min() - 0.05, a_all.max() + 0.05)
    ax.set_ylim(0, 0.75)
    ax.legend(fontsize=7, loc="upper left")
    if inset:
        ins = ax.inset_axes((0.62, 0.08, 0.35, 0.38))
        draw(ins, True)
        ins.set_yscale("log")
        ins.set_xlim(*ax.get_xlim())
        ins.set_ylim(1e-3, 1)
        ins.tick_params(labelsize=6)
    return ax


def plot_fig2b(data, ax=None, log: bool = True):
    """Fig. 2(b): p(S_end), ED ("+", sample-averaged) vs mean field p_S(S | g_N) (lines).

    Dashed: p_S at the g matching the ED mean (shape only). Log density axis by default
    because on the localized side almost all weight sits at S ~ 0.

    Args:
        data: :func:`jaxmf.analysis.ed_compare.end_entropy_distributions` result (or its JSON round
            trip).
        ax: matplotlib Axes (a new figure if None).
        log: logarithmic density axis.
    """
    ax = axes(ax, figsize=_FIGSIZE)
    colors = _colors()
    edges = _arr(data, "hist_edges")
    centers = 0.5 * (edges[1:] + edges[:-1])
    S_grid = _arr(data, "S_grid")
    for j, alpha in enumerate(_arr(data, "alphas")):
        c = colors[j % len(colors)]
        ax.plot(
            centers,
            _arr(data, "ed_density")[j],
            "+",
            color=c,
            ms=7,
            label=(
                rf"$\alpha$ = {alpha:.2f}: ED {data['ed_mean'][j]:.3f}, "
                f"MF {data['mf_mean'][j]:.3f}"
            ),
        )
        ax.plot(S_grid, _arr(data, "mf_density")[j], "-", color=c, lw=1.2)
        ax.plot(S_grid, _arr(data, "match_density")[j], "--", color=c, lw=0.8)
    p = data["params"]
    ax.set_xlabel(r"$S_{\rm end}$ (nats)")
    ax.set_ylabel(r"$p(S_{\rm end})$ (1/nat)")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(1e-2, None)
    ax.set_xlim(0, LOG2)
    ax.set_title(
        f"N = {p['N']}, ED (+, M = {p['n_samples']}) vs mean field "
        f"({p['dist']}, $g_{{1,0}}$ = {p['g10']:.3f}; dashed: same mean)",
        fontsize=9,
    )
    ax.legend(fontsize=7, title=r"$[S_{\rm end}]$ (nats)", title_fontsize=7)
    return ax
