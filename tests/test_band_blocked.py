"""The blocked first stage of the device band route (jaxmf/models/_band_blocked.py):
band kd -> band b by blocked Householder bulge chasing.

Independent reference: ``numpy.linalg.eigh`` of the dense matrices before and after
(the spectral measure of index 0 -- eigenvalues and |phi_k(0)| -- is what the
reduction must keep), and the one-stage reduction (band=0) for the whole route.
"""

import jax
import numpy as np
import pytest

import jaxmf  # noqa: F401  (float64)
from jaxmf.models import _band_blocked, _band_device, lattice

from .test_band_device import WS, assert_matches, band_storage, dense_reference


def dense_from_columns(C, n):
    """Dense symmetric H from column-band storage C[c, k] = H[c + k, c] (n, w)."""
    H = np.zeros((n, n))
    for k in range(C.shape[1]):
        H[np.arange(k, n), np.arange(n - k)] = C[: n - k, k]
    return H + np.tril(H, -1).T


@pytest.mark.parametrize(
    "n, kd, b",
    [
        (40, 6, 2),
        (61, 12, 4),
        (300, 10, 4),  # several loop phases, slot counts rising then falling
        (90, 9, 8),  # b = kd - 1
        (100, 16, 1),  # straight to tridiagonal
        (30, 29, 8),  # a full matrix
        (5, 4, 2),
    ],
)
def test_reduction_keeps_the_spectral_measure_of_index_0(n, kd, b):
    rng = np.random.default_rng(n + kd + b)
    H = rng.normal(size=(2, n, n))
    H = H + np.swapaxes(H, 1, 2)
    H[:, np.abs(np.subtract.outer(np.arange(n), np.arange(n))) > kd] = 0.0
    ab = band_storage(H, kd)  # (2, kd + 1, n)
    C = np.zeros((n, 2 * kd, 2))
    C[:, : kd + 1] = np.moveaxis(ab, 0, -1).swapaxes(0, 1)
    out = np.asarray(jax.jit(_band_blocked.reduce_band, static_argnums=(1, 2, 3))(C, n, kd, b))
    assert out.shape == (n, b + 1, 2)
    for i in range(2):
        Hb = dense_from_columns(out[:, :, i], n)
        assert Hb[0, 0] == H[i, 0, 0]  # Q e_0 = e_0
        assert_matches(*dense_reference(Hb), *dense_reference(H[i]))


def test_schedule_counts():
    # 2 n / b + n / kd sequential steps instead of 2 (n - 2); each task once
    n, kd, b = 1013, 46, 8
    steps, tasks = _band_blocked.sequential_steps(n, kd, b)
    sweeps = -(-(n - 1 - b) // b)
    assert 2 * (sweeps - 1) + 1 <= steps <= 2 * sweeps + n // kd + 2
    per_sweep = [-(-(n - 1 - (s + 1) * b) // kd) for s in range(sweeps)]
    assert tasks >= sum(per_sweep)  # slots cover every task that does work


def test_two_stage_tridiagonal_on_lattices():
    # QP and random lattices at W = 0 (degenerate) ... 1e4; R = 4, kd -> 3 -> 1
    R = 4
    qp = [lattice.potential(R, W, theta0=0.3) for W in WS]
    rnd = [lattice.potential(R, W, key=jax.random.key(5), kind="random") for W in WS]
    V = np.asarray(qp + rnd)
    hop = np.asarray(lattice.hamiltonian(R, 0.0, theta0=0.0))
    H = hop + V[:, :, None] * np.eye(V.shape[-1])
    ab = band_storage(H, lattice.bandwidth(R))
    d, e = jax.jit(lambda a: _band_device.band_to_tridiagonal(a, band=3))(ab)
    d0, e0 = jax.jit(lambda a: _band_device.band_to_tridiagonal(a, band=0))(ab)
    for i in range(len(V)):
        T = np.diag(d[i]) + np.diag(e[i], 1) + np.diag(e[i], -1)
        assert_matches(*dense_reference(T), *dense_reference(H[i]))
        T0 = np.diag(d0[i]) + np.diag(e0[i], 1) + np.diag(e0[i], -1)
        np.testing.assert_allclose(
            np.linalg.eigvalsh(T), np.linalg.eigvalsh(T0), atol=1e-12 * np.abs(V[i]).max() + 1e-12
        )


def test_single_matrix_and_vmap_agree_with_the_batch():
    rng = np.random.default_rng(7)
    ab = rng.normal(size=(3, 7, 50))
    fn = jax.jit(lambda a: _band_device.band_to_tridiagonal(a, band=2))
    d, e = fn(ab)
    dv, ev = jax.jit(jax.vmap(lambda a: _band_device.band_to_tridiagonal(a, band=2)))(ab)
    d1, e1 = fn(ab[1])
    np.testing.assert_allclose(dv, d, atol=1e-13)
    np.testing.assert_allclose(np.abs(ev), np.abs(e), atol=1e-13)
    np.testing.assert_allclose(d1, d[1], atol=1e-13)
    np.testing.assert_allclose(np.abs(e1), np.abs(e[1]), atol=1e-13)


def test_default_route_uses_two_stages_from_kd_20_and_matches_eigh():
    # R = 10: kd = 22, so the device route reduces 22 -> 8 -> 1 by default
    R = 10
    assert _band_device.intermediate_band(lattice.bandwidth(R)) == 8
    assert _band_device.intermediate_band(19) is None
    V = np.stack(
        [
            lattice.potential(R, 60.0, theta0=0.3),
            lattice.potential(R, 20.0, key=jax.random.key(1), kind="random"),
        ]
    )
    g = np.asarray(lattice.couplings_from_potential(V, R, method="device"))
    ref = np.asarray(lattice.couplings_from_potential(V, R, method="eigh"))
    np.testing.assert_allclose(g, ref, rtol=0, atol=1e-12)


def test_band_argument_is_checked():
    ab = np.zeros((3, 10))
    with pytest.raises(ValueError, match="band must be an integer >= 0"):
        _band_device.band_to_tridiagonal(ab, band=-1)
    with pytest.raises(ValueError, match="band"):
        _band_device.band_to_tridiagonal(ab, band=1.5)
