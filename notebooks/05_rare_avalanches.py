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
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from jaxmf import rare

# %%
compute, plot = rare.reproduce_task()
data, rows = compute(True)
for r in rows:
    print(" | ".join(map(str, r)))
fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
rare.plot_rare(data, ax)
