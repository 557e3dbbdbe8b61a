# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Bring your own model: a ladder, swept, thresholded and plotted
#
# Every analysis of jaxmf takes a *model*: (W, g0, realization) -> bare couplings. Here a
# two-leg ladder with a cosine potential is defined from data in ten lines, and goes
# through the same sweep, threshold and map as the paper's 2D lattice (docs/models.md).

# %%
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import jaxmf
from jaxmf.analysis import ensemble, lattice_maps, thresholds
from jaxmf.models import QPPhase, TightBinding, couplings_from_hamiltonian, nearest_neighbour_bonds

# %% [markdown]
# ## The model: sites, bonds, grain, potential of a phase


# %%
def ladder(R, potential="cosine"):
    """Two-leg ladder of length 2R + 1 (N = 4R + 2), grain in the middle of one leg."""
    sites = np.array([(x, y) for x in range(-R, R + 1) for y in (0, 1)])
    return TightBinding(
        sites,
        nearest_neighbour_bonds(sites),
        grain=2 * R,
        potential=potential,
        q=np.pi * np.array([1 + 5**0.5, 1 + 3**0.5]),
        name="ladder",
        R=R,
    )


model = ladder(20)
print(model, "bandwidth", model.bandwidth, "spec", model.spec())

# %% [markdown]
# The couplings of one realization, and the same from its dense Hamiltonian through the
# public matrix route (a user's own H enters the same way):

# %%
g = model.couplings(4.0, 1.0, QPPhase(0.3))
H = model.hamiltonian(model.potential_values(4.0, QPPhase(0.3)))
g_from_H = couplings_from_hamiltonian(H, site=model.grain)
print("max difference:", float(np.max(np.abs(g - g_from_H))))

# %% [markdown]
# ## Sweep W x R x theta0 (resumable, on disk) and the avalanche fraction

# %%
root = tempfile.mkdtemp()
W = [1.0, 2.0, 4.0, 8.0, 16.0]
res = ensemble.sweep(
    f"{root}/ladder", model=ladder, R=[10, 20], kind="qp", W=W, n_draws=16, progress=False
)
avg = ensemble.ensemble_average(res)
fig, ax = plt.subplots()
for iR, R in enumerate(res.R):
    ax.plot(res.W, avg.f_aval[:, iR], "o-", label=f"R = {R} (N = {res.N[iR]})")
ax.set(xscale="log", xlabel="W", ylabel="f_aval (QP)", title="ladder, cosine potential")
ax.legend()

# %% [markdown]
# ## The QP threshold of one phase, and the entropy profile along the ladder

# %%
t = thresholds.threshold_W(model, [0.3], W_min=0.5, W_max=50.0, n_scan=25)
print("W_c(theta0 = 0.3) in [", t.W_aval[0], ",", t.W_fail[0], "]; fold at", t.W_fold[0])
m = lattice_maps.entropy_map(model, 1.2 * float(t.W_fail[0]), realization=QPPhase(0.3))
fig, ax = plt.subplots()
for leg in (0, 1):
    on = m.sites[:, 1] == leg
    order = np.argsort(m.sites[on, 0])
    ax.plot(m.sites[on, 0][order], m.entropy[on][order] / np.log(2), "o-", label=f"leg {leg}")
ax.set(xlabel="x", ylabel="[S] / log 2", title="failed avalanche just above W_c")
ax.legend()
print("eta_tot =", m.eta_tot, " avalanche:", m.avalanche, " jaxmf", jaxmf.__version__)
