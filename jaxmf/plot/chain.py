"""Figures of the DRH chain (Fig. 3) and of the symmetric model's g_c(N).

Each takes the data computed by :mod:`jaxmf.paper` (plain dicts of arrays) and an
optional Axes, and returns the Axes. Entropies are in nats on every axis.
"""

from __future__ import annotations

import numpy as np

from .._checks import LOG2
from ._axes import axes


def plot_fig3a(data, ax=None):
    """Fig. 3(a): failed-avalanche profile [S_n] vs n (DRH chain)."""
    ax = axes(ax)
    n = np.arange(1, data["S"].size + 1)
    ax.semilogy(n, data["S"], "o-", ms=3)
    ax.axhline(LOG2, c="k", lw=0.6)
    ax.axvline(data["n_thermal"], c="gray", ls=":", label=f"$n_\\star$ = {data['n_thermal']:.1f}")
    ax.set_xlabel("l-bit index $n$")
    ax.set_ylabel("$[S_n]$ (nats)")
    ax.set_title(
        f"N={data['N']}, $\\delta\\alpha$={data['dalpha']}, "
        f"$g_{{1,0}}$={data['g10']}, {data['dist']}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return ax


def plot_fig3b(data, ax=None):
    """Fig. 3(b): eta_tot vs |delta alpha| for several N, with the |delta alpha|^-1 law."""
    ax = axes(ax)
    da = data["dalpha"]
    for N, H in zip(data["N"], data["eta_tot"]):
        ax.loglog(-da, H, "o-", ms=2.5, lw=1, label=f"N={N}")
    fit = data["fit"]
    x = np.array([-da.max(), -da.min()])
    ax.loglog(
        x, fit["A"] * x ** (-1.0) + fit["B"], "k--", lw=1, label="$\\propto|\\delta\\alpha|^{-1}$"
    )
    ax.set_xlabel("$|\\delta\\alpha| = \\alpha_c - \\alpha$")
    ax.set_ylabel("$\\eta_{tot}$")
    ax.set_title(f"localized side, $g_{{1,0}}$={data['g10']}, {data['dist']}", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_critical_coupling(data, ax=None):
    """g_c(N) N log N vs N for the symmetric model (eq. 21-22)."""
    ax = axes(ax)
    for dist, style in (("goe", "o-"), ("poisson", "s--")):
        ax.semilogx(data["N"], data[f"c_{dist}"], style, ms=3, label=dist)
    ax.axhline(1 / (4 * np.e), c="gray", ls=":", label="$1/(4e)$ (asymptote)")
    ax.set_xlabel("$N$")
    ax.set_ylabel("$g_c\\,N\\log N$")
    ax.legend(fontsize=8)
    return ax
