# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Resonances of one l-bit and the entropic enhancement eta(g) (Fig. 1)
#
# An l-bit coupled to an ergodic bath with reduced coupling g resonates in a fraction
# of eigenstates. The resonance strength g_a = g x has the scaled law ptilde(x) with the
# universal tail 2/x^2; jaxmf ships two families (goe, poisson). From it follow the
# mean entanglement entropy [S](g), the memory Czz(g), the entropy distribution p_S
# and the entropic enhancement eta(g) of the bath (A27). Entropies in nats.

# %%
import matplotlib.pyplot as plt
import numpy as np

import jaxmf
from jaxmf.resonance import family

# %% [markdown]
# ## The two resonance laws

# %%
x = np.logspace(-0.5, 2.5, 400)
fig, ax = plt.subplots(figsize=(4.5, 3.2), constrained_layout=True)
for dist in jaxmf.DISTRIBUTIONS:
    ax.loglog(x, np.asarray(family(dist).pdf(x)), label=dist)
ax.loglog(x, 2 / x**2, "k:", label="$2/x^2$")
ax.set(xlabel="$x = g_a/g$", ylabel=r"$\tilde p(x)$", ylim=(1e-6, 1))
ax.legend()
print("medians:", {d: float(family(d).quantile(0.5)) for d in jaxmf.DISTRIBUTIONS})

# %% [markdown]
# ## eta(g), [S](g), Czz(g)

# %%
g = np.logspace(-5, 3, 300)
fig, ax = plt.subplots(figsize=(4.5, 3.2), constrained_layout=True)
for dist, ls in (("goe", "-"), ("poisson", "--")):
    ax.semilogx(g, np.asarray(jaxmf.eta(g, dist)), ls, label=f"eta, {dist}")
    ax.semilogx(g, np.asarray(jaxmf.mean_entropy(g, dist)), ls, label=f"[S], {dist}")
    ax.semilogx(g, np.asarray(jaxmf.czz(g, dist)), ls, label=f"Czz, {dist}")
ax.axhline(np.log(2), c="k", lw=0.5)
ax.set(xlabel="g", ylabel="nats / Czz")
ax.legend(fontsize=7)

# %% [markdown]
# ## Distribution of eigenstate entropies p_S (Fig. 1c): bimodal at intermediate g

# %%
S = np.linspace(1e-4, np.log(2) - 1e-5, 500)
fig, ax = plt.subplots(figsize=(4.5, 3.2), constrained_layout=True)
for gg in (0.03, 0.3, 3.0):
    ax.semilogy(S, np.asarray(jaxmf.entropy_pdf(S, gg)), label=f"g = {gg}")
ax.set(xlabel="S (nats)", ylabel="$p_S(S|g)$")
ax.legend()

# %% [markdown]
# ## Limits checked on the spot

# %%
small = np.array([1e-6, 1e-9])
print("[S]/g ->", np.asarray(jaxmf.mean_entropy(small)) / small, "(2 pi =", 2 * np.pi, ")")
print("eta/(-8 g log g) ->", np.asarray(jaxmf.eta(small)) / (-8 * small * np.log(small)))
