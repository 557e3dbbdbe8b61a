# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Exact diagonalization of the central-grain chain vs mean field (Fig. 2)
#
# H = H_g + sum_n h_n sz_n + sum_n J_n (sx_g sx_n + sy_g sy_n), GOE grain of dimension
# 8, J_n = 0.41 alpha^(n-1). We compare the end spin's eigenstate entanglement entropy
# (nats) with the mean-field [S_N] after fitting g_{1,0} at alpha_c.
# Full-size numbers: docs/ed_vs_meanfield.md.

# %%
import matplotlib

matplotlib.use("Agg")
import jax
import matplotlib.pyplot as plt
import numpy as np

from jaxmf import ed_check
from jaxmf.models import ed

# %% [markdown]
# ## One realization: entropies of the end spin in every eigenstate

# %%
S = np.asarray(ed.drh_end_entropies(6, 0.6, jax.random.PRNGKey(0)))
print(S.shape, "mean [S_end] =", S.mean(), "max =", S.max(), "<= log 2 =", np.log(2))

# %% [markdown]
# ## The single-spin check (N = 1): which resonance family describes ED?

# %%
single = ed_check.single_spin_data(quick=True)
for name, r in single.items():
    print(name, "ED mean", r["ed_mean"], "best family:", r["best"],
          "KS(goe)-KS(poisson) =", r["ks_diff"], "+-", r["ks_diff_err"])

# %% [markdown]
# ## Fig. 2(a, b) at the quick sizes

# %%
data = ed_check.fig2_data(quick=True)
fig, axs = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
ed_check.plot_fig2a(data["fig2a"], axs[0])
ed_check.plot_fig2b(data["fig2b"], axs[1])
print("fitted g_10 =", data["fig2a"]["fit"]["g10"])
