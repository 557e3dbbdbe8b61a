# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Exact diagonalization of the central-grain chain vs mean field (Fig. 2)
#
# H = H_g + sum_n h_n sz_n + sum_n J_n (sx_g sx_n + sy_g sy_n), GOE grain of dimension
# 8, J_n = J_1 alpha^(n-1) with J_1 = 0.41 (an energy of the Hamiltonian). We compare the
# end spin's eigenstate entanglement entropy (nats) with the mean-field [S_N] after
# fitting the reduced coupling g10 = g_{1,0} of the mean-field chain at alpha_c.
# Full-size numbers: docs/ed_vs_meanfield.md.

# %%
import jax
import matplotlib.pyplot as plt
import numpy as np

from jaxmf.analysis import ed_compare
from jaxmf.models import ed
from jaxmf.paper import fig2
from jaxmf.plot.ed import plot_fig2a, plot_fig2b, plot_single_spin

# %% [markdown]
# ## One realization: entropies of the end spin in every eigenstate

# %%
S = np.asarray(ed.drh_end_entropies(6, 0.6, key=jax.random.key(0)))
print(S.shape, "mean [S_end] =", S.mean(), "max =", S.max(), "<= log 2 =", np.log(2))

# %% [markdown]
# ## The single-spin check (N = 1): which resonance family describes ED?

# %%
single = fig2.single_spin_data(quick=True, key=jax.random.key(0))
for name, r in single.items():
    print(
        name,
        "ED mean",
        r.ed_mean,
        "best family:",
        r.best,
        "KS(goe)-KS(poisson) =",
        r.ks_diff,
        "+-",
        r.ks_diff_err,
    )
plot_single_spin(single["large_grain_weak"])

# %% [markdown]
# ## Fig. 2(a, b) at the quick sizes
#
# g10 is fitted on optax (L-BFGS through the implicitly differentiated solver).

# %%
data = fig2.fig2_data(quick=True, key=jax.random.key(0))
fig, axs = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
plot_fig2a(data["fig2a"], axs[0])
plot_fig2b(data["fig2b"], axs[1])
fit = data["fig2a"]["fit"]
print(
    f"fitted g10 = {fit['g10']:.4f} +- {fit['g10_err']:.4f} (chi2 = {fit['chi2']:.2f}, "
    f"alpha_c = {ed_compare.ALPHA_C:.4f})"
)
