# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 2D avalanches: quasiperiodic vs random lattices (Figs. 4, 5)
#
# Free fermions on the square lattice |n1| + |n2| <= R with a triangle-wave potential of
# strength W; the grain couples to site 0, so the bare couplings are g0 |phi_k(0)|.
# Quasiperiodic (QP) avalanches stop above a finite W_th at every R; random ones keep
# a non-zero avalanche fraction. Full-size numbers: docs/lattice.md.

# %%
import tempfile

import jax
import numpy as np

import jaxmf
from jaxmf.analysis import ensemble, thresholds
from jaxmf.analysis.lattice_maps import entropy_map
from jaxmf.models import QPPhase, lattice
from jaxmf.plot.lattice import plot_fig4, plot_fig5

# %% [markdown]
# ## One realization: couplings by the exact banded fast path, then the mean field

# %%
g0 = lattice.bare_couplings(10, 80.0, theta0=2.954)
res = jaxmf.solve(g0)
print(
    "N =",
    g0.size,
    "eta_tot =",
    float(res.eta_tot),
    "avalanche:",
    bool(jaxmf.meanfield.avalanches(res)),
)

# %% [markdown]
# ## Fig. 4: entropy maps of one QP realization (R = 15, theta0 = 2.954)

# %%
maps = [entropy_map(15, W, realization=QPPhase(2.954)) for W in (45.0, 70.0, 120.0)]
plot_fig4(maps)

# %% [markdown]
# ## Fig. 5: f_aval and [eta_tot] vs W, small ensembles (resumable sweeps on disk)

# %%
root = tempfile.mkdtemp()
kw = dict(R=[6, 10], W=[40.0, 80.0, 120.0, 160.0], progress=False)
qp = ensemble.sweep(f"{root}/qp", kind="qp", theta0=ensemble.theta_grid(16), **kw)
rnd = ensemble.sweep(f"{root}/random", kind="random", n_draws=16, seed=1, **kw)
print("QP f_aval:\n", ensemble.ensemble_average(qp).f_aval)
print("random f_aval:\n", ensemble.ensemble_average(rnd).f_aval)
plot_fig5(qp, rnd)

# %% [markdown]
# ## Gradient d eta_tot / dW (implicit through the fixed point) and one threshold

# %%


def f(W):
    return thresholds.eta_tot(6, W, realization=QPPhase(0.3))


print(
    "d eta_tot/dW at W = 150:",
    float(jax.grad(f)(150.0)),
    " FD:",
    (float(f(150.0 + 1e-4)) - float(f(150.0 - 1e-4))) / 2e-4,
)
r = thresholds.threshold_W(6, np.array([0.3]))
print("W_th(theta0 = 0.3) in [", r.W_aval, ",", r.W_fail, "]")
