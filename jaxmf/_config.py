"""float64 everywhere: jaxmf enables JAX's x64 mode on import."""

import jax

jax.config.update("jax_enable_x64", True)
