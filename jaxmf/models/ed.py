"""Exact diagonalization of the central-grain (DRH) chain: the check on mean-field theory.

The model is eq. (1) with the flip-flop couplings (2) and the DRH profile (12),

    H = H_g + sum_n h_n sz_n + sum_n J_n (sx_g sx_n + sy_g sy_n),   J_n = J_1 alpha^(n-1),

with Pauli matrices (eigenvalues +-1). The grain is a GOE matrix of dimension d_g = 2^k
(default 8: three qubits) scaled to rms eigenvalue 1.5; sigma_g acts on its last
(least significant) qubit. The Hilbert space is ordered as kron(grain, spin_1, ..., spin_N),
so spin n is bit N - n of the chain index, the end spin n = N is the least significant bit,
and sz = +1 is bit value 0. H is real symmetric, so the real `eigh` is used.

No symmetry is exploited: sx_g sx_n + sy_g sy_n conserves sz_g + sz_n, but the GOE grain
mixes the grain qubit, so H conserves no total magnetization and has no block structure.

Observables of the end l-bit n = N in every eigenstate |a>: the entanglement entropy
S_a (nats) of its 2x2 reduced density matrix, and <a|sz_N|a>, whose mean square over
eigenstates is the infinite-time memory (1/D) sum_a <a|sz_N|a>^2 (Czz of eq. 7a-b, A14).

Couplings: J1 = J_1 here is an energy, the flip-flop amplitude of the Hamiltonian
(in units where h = 1). It is not the reduced coupling g10 = g_{1,0} of the mean-field
chain (:mod:`jaxmf.models.chain`), which is dimensionless and is fitted to these ED
results in :mod:`jaxmf.analysis.ed_compare`.

Randomness: every function that samples a realization takes a JAX PRNG key, keyword-only
(``key=jax.random.key(seed)``; raw ``jax.random.PRNGKey`` keys give the same numbers).
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlog1py, xlogy

from .._checks import LOG2, check_choice, check_int, check_values

__all__ = [
    "CentralGrainParams",
    "dense_bytes",
    "EDResult",
    "EndSpinObservables",
    "drh_parameters",
    "central_grain_hamiltonian",
    "drh_hamiltonian",
    "end_spin_observables",
    "drh_end_spectrum",
    "drh_end_entropies",
    "drh_end_memory",
    "drh_ensemble",
]

# Paper's parameters (Sec. VI): h = 1, delta h = 0.1, J_1 = 0.41, d_g = 8, rms 1.5.
# J1 is the Hamiltonian's coupling (an energy), not the reduced coupling g10.
DEFAULTS: dict[str, Any] = dict(
    d_g=8, grain_rms=1.5, h_mean=1.0, h_width=0.1, J1=0.41, grain_norm="sample"
)


class CentralGrainParams(NamedTuple):
    """One realization of the central-grain model (eq. 1, 2); batched along leading axes.

    Attributes:
        H_g: (..., d_g, d_g) grain Hamiltonian.
        h: (..., N) l-bit fields h_n.
        J: (..., N) couplings J_n = J_1 alpha^(n-1) (energies).
    """

    H_g: jax.Array
    h: jax.Array
    J: jax.Array


class EDResult(NamedTuple):
    """End-spin observables in every eigenstate, ordered by energy.

    Attributes:
        energies: (..., D) eigenvalues, ascending.
        entropy: (..., D) entanglement entropy of the end spin (nats), in [0, log 2].
        sz: (..., D) <a|sz_N|a>.
    """

    energies: jax.Array
    entropy: jax.Array
    sz: jax.Array

    @property
    def memory(self) -> jax.Array:
        """(...,) infinite-time memory (1/D) sum_a <a|sz_N|a>^2 per realization."""
        return jnp.mean(self.sz**2, axis=-1)


class EndSpinObservables(NamedTuple):
    """Reduced state of the last qubit in each of M states.

    Attributes:
        entropy: (..., M) entanglement entropy (nats), in [0, log 2].
        sz: (..., M) <sz> of the last qubit.
    """

    entropy: jax.Array
    sz: jax.Array


# ---------------------------------------------------------------------------- checks
def _check_N(N):
    check_int("N", N, 1)


def _check_params(alpha, d_g, grain_rms, h_mean, h_width, J1, grain_norm):
    check_values("alpha", alpha, lambda a: np.isfinite(a) & (a >= 0), "a finite number >= 0")
    check_int("d_g", d_g, 2)
    if d_g & (d_g - 1):
        raise ValueError(f"d_g must be a power of 2 >= 2 (the grain is qubits); got {d_g!r}")
    check_values("grain_rms", grain_rms, lambda x: np.isfinite(x) & (x > 0), "a finite number > 0")
    check_values("h_mean", h_mean, np.isfinite, "a finite number")
    check_values("h_width", h_width, lambda x: np.isfinite(x) & (x >= 0), "a finite number >= 0")
    check_values("J1", J1, np.isfinite, "a finite number")
    check_choice("grain_norm", grain_norm, ("sample", "ensemble"))


# ------------------------------------------------------------------------- the model
def drh_parameters(
    N: int,
    alpha,
    *,
    key,
    d_g: int = 8,
    grain_rms=1.5,
    h_mean=1.0,
    h_width=0.1,
    J1=0.41,
    grain_norm: str = "sample",
) -> CentralGrainParams:
    """Sample one DRH realization (Sec. VI): GOE grain, random fields, couplings (12).

    Args:
        N: number of l-bits (static int >= 1).
        alpha: coupling decay, J_n = J1 * alpha^(n-1) (eq. 12); finite, >= 0.
        key: a JAX PRNG key, keyword-only (one realization; vmap for many).
        d_g: grain dimension, a power of 2 (sigma_g acts on one of its qubits).
        grain_rms: rms eigenvalue of H_g, sqrt(tr(H_g^2) / d_g).
        h_mean, h_width: h_n ~ uniform[h_mean - h_width, h_mean + h_width].
        J1: first coupling J_1 of the Hamiltonian (an energy; not the mean-field g10).
        grain_norm: "sample" scales every H_g to exactly `grain_rms` (docs/theory.md,
            section 6);
            "ensemble" scales the GOE so that the sample average [tr(H_g^2)]/d_g is
            grain_rms^2 (the paper's bracket notation can be read this way).

    Returns:
        CentralGrainParams with H_g (d_g, d_g), h (N,), J (N,).
    """
    _check_N(N)
    _check_params(alpha, d_g, grain_rms, h_mean, h_width, J1, grain_norm)
    k_grain, k_field = jax.random.split(key)
    a = jax.random.normal(k_grain, (d_g, d_g))
    goe = (a + a.T) / np.sqrt(2.0)  # off-diagonal variance 1, diagonal variance 2
    if grain_norm == "sample":
        rms = jnp.sqrt(jnp.sum(goe**2) / d_g)
    else:
        rms = np.sqrt(d_g + 1.0)  # E tr(goe^2) / d_g = d_g + 1
    H_g = goe * (grain_rms / rms)
    h = jax.random.uniform(k_field, (N,), minval=h_mean - h_width, maxval=h_mean + h_width)
    J = J1 * jnp.asarray(alpha, dtype=float) ** jnp.arange(N)
    return CentralGrainParams(H_g, h, J)


def _basis_tables(d_g: int, N: int):
    """Static index tables: sz of each spin (D, N); flip-flop pairs (rows, cols, spin index)."""
    L = 2**N
    idx = np.arange(d_g * L)
    shifts = N - 1 - np.arange(N)  # spin n (1-based) is bit N - n of the chain index
    bits = ((idx % L)[:, None] >> shifts) & 1
    grain_bit = (idx // L) & 1  # sigma_g acts on the least significant grain qubit
    # sx_g sx_n + sy_g sy_n = 2 (s+_g s-_n + s-_g s+_n): it flips an antiparallel pair.
    rows, spins = np.nonzero(bits != grain_bit[:, None])
    cols = rows ^ (L | (1 << shifts[spins]))
    return 1 - 2 * bits, rows, cols, spins


def central_grain_hamiltonian(params: CentralGrainParams) -> jax.Array:
    """Dense central-grain Hamiltonian, eq. (1) with couplings (2).

    H = H_g (x) 1 + sum_n h_n sz_n + sum_n J_n (sx_g sx_n + sy_g sy_n), built from index
    tables (one broadcast for H_g (x) 1, one scatter for the diagonal and the D * N / 2
    flip-flop pairs) instead of Kronecker products of N + 1 factors per term.

    Args:
        params: H_g (d_g, d_g), h (N,), J (N,) for one realization (vmap for batches).

    Returns:
        (D, D) real symmetric matrix, D = d_g * 2^N, basis kron(grain, spin_1..spin_N).
    """
    H_g, h, J = params
    d_g, N = H_g.shape[-1], h.shape[-1]
    sz, rows, cols, spins = _basis_tables(d_g, N)
    L = 2**N
    D = d_g * L
    # H_g (x) 1 as one broadcast (XLA fuses it; jnp.kron + diag cost several D^2 passes).
    H = (H_g[:, None, :, None] * jnp.eye(L, dtype=H_g.dtype)[None, :, None, :]).reshape(D, D)
    # Fields on the diagonal and flip-flop amplitudes 2 J_n, in one scatter.
    diag = np.arange(D)
    values = jnp.concatenate([jnp.asarray(sz, dtype=h.dtype) @ h, 2.0 * J[spins]])
    return H.at[np.concatenate([diag, rows]), np.concatenate([diag, cols])].add(values)


def drh_hamiltonian(N: int, alpha, *, key, **params) -> jax.Array:
    """(d_g 2^N, d_g 2^N) DRH Hamiltonian of one realization; see `drh_parameters`."""
    return central_grain_hamiltonian(drh_parameters(N, alpha, key=key, **params))


# ------------------------------------------------------------------ end-spin observables
def _binary_entropy(lam):
    """-lam log lam - (1 - lam) log(1 - lam) with 0 log 0 = 0."""
    return -xlogy(lam, lam) - xlog1py(1.0 - lam, -lam)


def end_spin_observables(eigvecs: jax.Array) -> EndSpinObservables:
    """Entropy and <sz> of the last qubit in each eigenvector (columns of `eigvecs`).

    Each eigenvector, reshaped to (D/2, 2) (rest x end spin), gives the 2x2 reduced
    density matrix as its Gram matrix rho = [[p, c], [c*, q]]. Its small eigenvalue is
    computed as det(rho) / lambda_max, free of the cancellation in 1/2 - r, so that
    product states give S = 0 to rounding.

    Args:
        eigvecs: (..., D, M) M eigenvectors (or any normalized states) as columns, D even.

    Returns:
        EndSpinObservables: entropy (..., M) in nats, clipped to [0, log 2];
        sz (..., M) = p - q.
    """
    D, M = eigvecs.shape[-2:]
    v = eigvecs.reshape(*eigvecs.shape[:-2], D // 2, 2, M)
    v_up, v_dn = v[..., 0, :], v[..., 1, :]
    p = jnp.sum(jnp.abs(v_up) ** 2, axis=-2)
    q = jnp.sum(jnp.abs(v_dn) ** 2, axis=-2)
    c2 = jnp.abs(jnp.sum(jnp.conj(v_up) * v_dn, axis=-2)) ** 2
    t = p + q  # = 1 up to rounding; normalize so rho has unit trace
    p, q, c2 = p / t, q / t, c2 / t**2
    lam_max = 0.5 + jnp.sqrt(0.25 * (p - q) ** 2 + c2)
    lam_min = jnp.clip((p * q - c2) / lam_max, 0.0, 0.5)
    entropy = jnp.clip(_binary_entropy(lam_min), 0.0, LOG2)
    return EndSpinObservables(entropy, p - q)


@partial(jax.jit, static_argnames=("N", "d_g", "grain_norm"))
def _spectrum(key, alpha, grain_rms, h_mean, h_width, J1, *, N, d_g, grain_norm):
    params = drh_parameters(
        N,
        alpha,
        key=key,
        d_g=d_g,
        grain_rms=grain_rms,
        h_mean=h_mean,
        h_width=h_width,
        J1=J1,
        grain_norm=grain_norm,
    )
    energies, vecs = jnp.linalg.eigh(central_grain_hamiltonian(params))
    entropy, sz = end_spin_observables(vecs)
    return EDResult(energies, entropy, sz)


def _split_params(alpha, params):
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown parameter(s) {sorted(unknown)}; accepted: {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **params}
    _check_params(alpha, **p)
    floats = (alpha, p["grain_rms"], p["h_mean"], p["h_width"], p["J1"])
    return floats, dict(d_g=p["d_g"], grain_norm=p["grain_norm"])


def drh_end_spectrum(N: int, alpha, *, key, **params) -> EDResult:
    """Energies, end-spin entropies and <sz_N> in every eigenstate of one realization.

    Args:
        N: number of l-bits (static int >= 1).
        alpha: coupling decay of eq. (12).
        key: JAX PRNG key (keyword-only).
        **params: d_g, grain_rms, h_mean, h_width, J1, grain_norm (see `drh_parameters`).

    Returns:
        EDResult with fields of shape (D,), D = d_g * 2^N, ordered by energy.
        Works under jax.vmap over keys (and alpha) and under jit with N static.
    """
    _check_N(N)
    floats, static = _split_params(alpha, params)
    return _spectrum(key, *floats, N=N, **static)


def drh_end_entropies(N: int, alpha, *, key, **params) -> jax.Array:
    """Entanglement entropy (nats) of the end l-bit n = N in every eigenstate.

    Args: as `drh_end_spectrum`.

    Returns:
        (d_g * 2^N,) entropies in [0, log 2], ordered by energy.
    """
    return drh_end_spectrum(N, alpha, key=key, **params).entropy


def drh_end_memory(N: int, alpha, *, key, **params) -> jax.Array:
    """() infinite-time memory of the end spin, (1/D) sum_a <a|sz_N|a>^2 (Czz of eq. 7, A14)."""
    return drh_end_spectrum(N, alpha, key=key, **params).memory


def drh_ensemble(
    N: int,
    alpha,
    *,
    key,
    n_samples: int | None = None,
    batch_size: int | None = None,
    memory_bytes: float = 2**30,
    **params,
) -> EDResult:
    """End-spin observables for many realizations, batched and chunked to fit memory.

    Realizations are processed by `jax.lax.map` in vmapped chunks of `batch_size`, so at
    most a few (batch_size, D, D) float64 arrays are alive at once.

    Args:
        N: number of l-bits (static int >= 1).
        alpha: coupling decay of eq. (12) (one value for the whole ensemble).
        key: keyword-only; either a batch of keys (n_samples,) [typed] /
            (n_samples, 2) [raw], or a single key together with `n_samples` (then
            split into n_samples keys).
        n_samples: number of realizations when `key` is a single key.
        batch_size: realizations per chunk; by default the largest with about
            6 * batch_size * D^2 * 8 bytes <= memory_bytes (at least 1).
        memory_bytes: memory budget used to choose the default batch_size.
        **params: see `drh_parameters`.

    Returns:
        EDResult with fields of shape (n_samples, D).
    """
    _check_N(N)
    floats, static = _split_params(alpha, params)
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if n_samples is not None:
        check_int("n_samples", n_samples, 1)
        keys = jax.random.split(key, n_samples)
    else:
        if key.ndim != (1 if typed else 2):
            raise ValueError("key must be a batch of keys, or give n_samples with a single key")
        keys = key
    if batch_size is None:
        batch_size = max(1, int(memory_bytes // dense_bytes(N, static["d_g"])))
    batch_size = min(batch_size, keys.shape[0])
    return _ensemble(keys, *floats, N=N, batch_size=batch_size, **static)


def dense_bytes(N: int, d_g: int = DEFAULTS["d_g"]) -> int:
    """Memory of one dense ED realization of dimension D = d_g 2^N: about six float64
    (D, D) arrays (Hamiltonian, eigenvectors, eigh workspace), 48 D^2 bytes."""
    return 6 * 8 * (d_g * 2**N) ** 2


@partial(jax.jit, static_argnames=("N", "d_g", "grain_norm", "batch_size"))
def _ensemble(keys, alpha, grain_rms, h_mean, h_width, J1, *, N, d_g, grain_norm, batch_size):
    one = partial(_spectrum, N=N, d_g=d_g, grain_norm=grain_norm)
    return jax.lax.map(
        lambda k: one(k, alpha, grain_rms, h_mean, h_width, J1), keys, batch_size=batch_size
    )
