"""PRNG keys of the ED comparison: typed keys, one stream per realization."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def as_key(key):
    """A typed JAX key from a typed key, a raw uint32 key, or an int seed
    (``jax.random.key(seed)``, which draws the same bits as ``PRNGKey(seed)``)."""
    if isinstance(key, (bool, np.bool_)):
        raise TypeError(f"key must be a JAX PRNG key or an integer seed; got {key!r}")
    if isinstance(key, (int, np.integer)):
        return jax.random.key(int(key))
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)
    return key


def sample_keys(key, n_samples: int, label: int):
    """Keys fold_in(fold_in(key, label), i), i < n_samples: realization i is the same
    whatever n_samples is (a larger run extends a smaller one)."""
    base = jax.random.fold_in(as_key(key), label)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(n_samples))


def numpy_rng(key) -> np.random.Generator:
    """A NumPy generator seeded by the key's bits (for the bootstrap)."""
    return np.random.default_rng(np.asarray(jax.random.key_data(as_key(key))).ravel().tolist())
