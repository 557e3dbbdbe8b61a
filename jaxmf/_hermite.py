"""Cubic Hermite interpolation on a uniform grid (value and exact derivative).

The cell index is computed directly from the grid spacing (no search), which is what
makes table lookups cheap enough for ~1e9 calls in a sweep.
"""

import jax.numpy as jnp


def hermite(y, dy, u0: float, du: float, u):
    """Interpolate nodes (y_k, dy/du_k) at u_k = u0 + k du; u is clipped to the grid.

    Args:
        y, dy: (M,) node values and derivatives.
        u0, du: first node and spacing (Python floats).
        u: query points, any shape.

    Returns:
        (value, d value / du), each of the shape of ``u``.
    """
    m = y.shape[0]
    s = jnp.clip((u - u0) / du, 0.0, m - 1.0)
    i = jnp.clip(jnp.floor(s).astype(jnp.int32), 0, m - 2)
    t = s - i
    y0, y1, m0, m1 = y[i], y[i + 1], du * dy[i], du * dy[i + 1]
    t2, t3 = t * t, t * t * t
    val = (
        (2 * t3 - 3 * t2 + 1) * y0
        + (t3 - 2 * t2 + t) * m0
        + (-2 * t3 + 3 * t2) * y1
        + (t3 - t2) * m1
    )
    der = (
        (6 * t2 - 6 * t) * y0
        + (3 * t2 - 4 * t + 1) * m0
        + (-6 * t2 + 6 * t) * y1
        + (3 * t2 - 2 * t) * m1
    ) / du
    return val, der
