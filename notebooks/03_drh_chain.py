# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Failed avalanches in the DRH chain (Fig. 3) and the symmetric model
#
# g_{n,0} = g_{1,0} alpha^(n-1). A thermalized l-bit multiplies every coupling by
# sqrt 2, each step along the chain divides it by 1/alpha: alpha_c = 1/sqrt 2. Below
# alpha_c the avalanche fails after n* ~ |delta alpha|^-1 l-bits.

# %%
import jax
import matplotlib.pyplot as plt
import numpy as np

import jaxmf
from jaxmf.analysis import symmetric_fold
from jaxmf.meanfield import mean_entropies, n_thermal
from jaxmf.models import chain

# %% [markdown]
# ## Fig. 3(a): the failed-avalanche profile

# %%
res = jaxmf.solve(chain.drh_couplings(50, chain.ALPHA_C - 0.07, 0.5))
S = np.asarray(mean_entropies(res))
print(
    "eta_tot =",
    float(res.eta_tot),
    " n* =",
    float(n_thermal(res)),
    " iterations:",
    int(res.iterations),
)
plt.semilogy(np.arange(1, 51), S, "o-")
plt.xlabel("n")
plt.ylabel("[S_n] (nats)")

# %% [markdown]
# ## Fig. 3(b): eta_tot vs delta alpha for several N, all solved in one batched call each

# %%
da = -np.logspace(-2.5, -0.7, 30)
for N in (25, 50, 100, 200, 400):
    r = jaxmf.solve(chain.drh_log_couplings(N, chain.ALPHA_C + da), log_input=True)
    assert bool(np.all(r.converged))
    plt.loglog(-da, np.asarray(r.eta_tot), label=f"N={N}")
plt.loglog(-da, 1.4 / -da, "k--", label="|da|^-1")
plt.legend()
plt.xlabel("|delta alpha|")
plt.ylabel("eta_tot")

# %% [markdown]
# ## Implicit gradient d eta_tot / d alpha (no unrolling through the iterations)

# %%


def f(a):
    return jaxmf.solve(chain.drh_couplings(200, a)).eta_tot


alphas = np.array([0.55, 0.6, 0.65])
print("d eta_tot/d alpha:", np.asarray(jax.vmap(jax.grad(f))(alphas)))
print("finite difference:", [(float(f(a + 1e-6)) - float(f(a - 1e-6))) / 2e-6 for a in alphas])

# %% [markdown]
# ## Symmetric couplings: g_c(N) ~ c / (N log N)

# %%
N = np.logspace(2, 5, 7)
c = np.asarray(symmetric_fold.critical_coupling(N)) * N * np.log(N)
print(np.c_[N, c])
