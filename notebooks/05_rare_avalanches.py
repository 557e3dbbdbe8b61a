# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Rare avalanches: random vs quasiperiodic potentials
#
# For iid random potentials f_aval(W) stays non-zero at every W (a calm neighbourhood
# of the grain lets the avalanche through); for quasiperiodic ones it vanishes above
# sup_theta0 W_th. Subset simulation on the critical grain coupling log g0_c(V) reaches
# probabilities far below what plain sampling sees, with error bars from independent
# replicas; the QP supremum comes from zooming on the spikes of W_th(theta0). Full
# numbers: docs/rare_avalanches.md.

# %%
import tempfile

import jax
import numpy as np

from jaxmf.analysis import rare
from jaxmf.models import lattice
from jaxmf.paper import rare as paper_rare

# %% [markdown]
# ## The reaction coordinate: one potential answers the avalanche question for every g0
#
# The lattice with potential V avalanches iff log g0 > log g0_c(V).

# %%
R, W = 10, 150.0
V = jax.vmap(lambda k: lattice.potential(R, W, key=k, kind="random"))(
    jax.random.split(jax.random.key(0), 8)
)
crit = rare.critical_log_g0(V, R)
print("g0_c of 8 random potentials at W = 150:", np.round(np.exp(crit.log_scale), 2))

# %% [markdown]
# ## Subset simulation against plain sampling on a small lattice (R = 2, g0 = 0.1)

# %%
e = rare.subset_estimate(2, 80.0, key=jax.random.key(5), g0=(0.1, 0.05), n=200, replicas=4)
p = rare.plain_estimate(2, 80.0, key=jax.random.key(7), g0=0.1, n=50_000, chunk=10_000)
print(
    f"subset simulation: f(g0=0.1) = {e.f[0]:.2e} +- {e.stderr[0]:.1e}, "
    f"f(g0=0.05) = {e.f[1]:.2e} +- {e.stderr[1]:.1e} ({e.n_evals} lattices)"
)
print(f"plain sampling:    f(g0=0.1) = {p.f:.2e} +- {p.stderr:.1e} ({p.hits} hits of 50000)")
prof = rare.calm_profile(e.conditional_V, 2, r_max=2)
print(
    "rms of V_0, V_n - V_0 (d = 1, 2) among avalanching potentials:",
    np.round(prof.rms, 1),
    "(iid:",
    np.round([80 / np.sqrt(3), 80 * np.sqrt(2 / 3), 80 * np.sqrt(2 / 3)], 1),
    ")",
)

# %% [markdown]
# ## The figure of `jaxmf reproduce` (quick sizes): R = 10, random vs QP

# %%
data, rows = paper_rare.compute(True, tempfile.mkdtemp())
for r in rows:
    print(" | ".join(map(str, r)))
figs = paper_rare.plot(data)
