"""The band spectral route in XLA (jaxmf/models/_band_device.py, route "device").

Independent references: ``numpy.linalg.eigh`` of the dense matrix (LAPACK syevd), the
host band route "fast" (LAPACK band reduction + dsterf), ``scipy.linalg.eigh_tridiagonal``
(LAPACK stemr) for the bisection, and central finite differences for derivatives.
Degenerate spectra (W = 0) are compared through basis-independent cluster weights.
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import jaxmf  # noqa: F401  (float64)
from jaxmf.analysis import ensemble
from jaxmf.models import _band_device, lattice, spectral

from .helpers import fd_grad

WS = (0.0, 1e-3, 1.0, 100.0, 1e4)


def band_storage(H, kd):
    """LAPACK lower band storage ab[k, j] = H[j + k, j] of dense (..., N, N) H."""
    n = H.shape[-1]
    ab = np.zeros(H.shape[:-2] + (kd + 1, n))
    for k in range(kd + 1):
        ab[..., k, : n - k] = np.diagonal(H, -k, axis1=-2, axis2=-1)
    return ab


def clusters(lam, tol):
    """Start indices of the runs of eigenvalues closer than tol (sorted lam)."""
    return np.concatenate([[0], np.nonzero(np.diff(np.asarray(lam)) > tol)[0] + 1])


def lattice_potentials(R):
    """(10, N): QP (theta0 = 0.3) and random (key 5) potentials at the W of WS."""
    qp = [lattice.potential(R, W, theta0=0.3) for W in WS]
    rnd = [lattice.potential(R, W, key=jax.random.key(5), kind="random") for W in WS]
    return np.asarray(qp + rnd), np.array(WS + WS)


def dense_reference(H):
    lam, vectors = np.linalg.eigh(H)
    return lam, np.abs(vectors[..., 0, :])


def assert_matches(lam, amp, lam_ref, amp_ref):
    """Eigenvalues to 1e-12 max |lambda|; |phi_k(0)| to 1e-12 absolute for isolated
    eigenvalues. Within a cluster of gaps < 1e-3 max |lambda| (W = 0: degenerate; small
    W: split by ~W) single amplitudes are determined only to ~eps ||H|| / gap (by either
    method: 1e-8 seen between two dense solvers at W = 1e-3), so there the cluster's
    total weight sum |phi_k(0)|^2 is compared."""
    lam, amp = np.asarray(lam), np.asarray(amp)
    scale = np.max(np.abs(lam_ref))
    np.testing.assert_allclose(lam, lam_ref, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(np.sum(amp**2), 1.0, atol=1e-12)
    starts = clusters(lam_ref, 1e-3 * scale)
    np.testing.assert_allclose(
        np.add.reduceat(amp**2, starts), np.add.reduceat(amp_ref**2, starts), rtol=0, atol=1e-12
    )
    sizes = np.diff(np.append(starts, len(lam)))
    isolated = starts[sizes == 1]
    np.testing.assert_allclose(amp[isolated], amp_ref[isolated], rtol=0, atol=1e-12)
    return isolated


@pytest.mark.parametrize("R", [2])
def test_lattices_match_dense_eigh_and_host_route(R):
    V, Ws = lattice_potentials(R)
    hop = np.asarray(lattice.hamiltonian(R, 0.0, theta0=0.0))
    H = hop + V[:, :, None] * np.eye(V.shape[-1])
    ab = band_storage(H, lattice.bandwidth(R))
    lam, amp = jax.jit(_band_device.band_spectrum)(ab)
    host = np.asarray(lattice.couplings_from_potential(V, R, method="fast"))
    for i in range(len(Ws)):
        lam_ref, amp_ref = dense_reference(H[i])
        isolated = assert_matches(lam[i], amp[i], lam_ref, amp_ref)
        # the host route, same tolerance
        np.testing.assert_allclose(amp[i][isolated], host[i][isolated], rtol=0, atol=1e-12)
    # the route through the lattice API is the same computation
    g = lattice.couplings_from_potential(V, R, method="device")
    np.testing.assert_allclose(g, amp, rtol=0, atol=1e-14)


@pytest.mark.slow
@pytest.mark.parametrize("R", [3, 4, 5, 6])
def test_lattices_match_dense_eigh_more_radii(R):
    test_lattices_match_dense_eigh_and_host_route(R)


@pytest.mark.parametrize(
    "n, kd",
    [
        (30, 3),
        (7, 9),
        pytest.param(13, 6, marks=pytest.mark.slow),
        pytest.param(9, 1, marks=pytest.mark.slow),
        pytest.param(6, 0, marks=pytest.mark.slow),
    ],
)
def test_random_band_matrices_match_dense_eigh(n, kd):
    # not lattices: every entry in the band random (scales 1e-3 to 1e3 on the
    # diagonal); kd >= n - 1 is a full matrix, kd <= 1 needs no reduction
    rng = np.random.default_rng(n + kd)
    ab = rng.normal(size=(3, kd + 1, n))
    ab[:, 0] *= 10.0 ** rng.uniform(-3, 3, size=(3, n))
    H = np.zeros((3, n, n))
    for k in range(min(kd + 1, n)):
        i = np.arange(k, n)
        H[:, i, i - k] = ab[:, k, : n - k]
    H = H + np.swapaxes(np.tril(H, -1), -1, -2)
    lam, amp = jax.jit(_band_device.band_spectrum)(ab)
    for i in range(3):
        assert_matches(lam[i], amp[i], *dense_reference(H[i]))


def test_tridiagonal_is_an_orthogonal_similarity_fixing_index_0():
    # T's eigenvalues and first eigenvector components are H's (dense eigh of both)
    rng = np.random.default_rng(3)
    n, kd = 40, 5
    ab = rng.normal(size=(kd + 1, n))
    H = np.zeros((n, n))
    for k in range(kd + 1):
        H[np.arange(k, n), np.arange(n - k)] = ab[k, : n - k]
    H = H + np.tril(H, -1).T
    d, e = jax.jit(_band_device.band_to_tridiagonal)(ab)
    T = np.diag(d) + np.diag(e, 1) + np.diag(e, -1)
    (lam_h, amp_h), (lam_t, amp_t) = dense_reference(H), dense_reference(T)
    np.testing.assert_allclose(lam_t, lam_h, atol=1e-13 * np.abs(lam_h).max())
    np.testing.assert_allclose(amp_t, amp_h, atol=1e-13)


@pytest.mark.parametrize("points", [1, 7])  # bisection (CPU default), multisection
def test_bisection_matches_lapack(points):
    rng = np.random.default_rng(4)
    d = rng.normal(size=(2, 50)) * np.array([[1.0], [1e4]])
    e = rng.normal(size=(2, 49))
    f = jax.jit(_band_device.tridiagonal_eigenvalues, static_argnames="points")
    lam = np.asarray(f(d, e, points=points))
    for i in range(2):
        ref = scipy.linalg.eigh_tridiagonal(d[i], e[i], eigvals_only=True)
        np.testing.assert_allclose(lam[i], ref, atol=4e-16 * 50 * np.abs(ref).max())


def _subjaxprs(value):
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):  # ClosedJaxpr
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _subjaxprs(v)


def _primitives(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn.primitive.name
        for value in eqn.params.values():
            for sub in _subjaxprs(value):
                yield from _primitives(sub)


def _has_callback(f, *args):
    return any("callback" in name for name in _primitives(jax.make_jaxpr(f)(*args).jaxpr))


def test_route_holds_no_callback():
    V = jnp.zeros((2, lattice.num_sites(2)))

    def route(method):
        return lambda v: lattice.couplings_from_potential(v, 2, method=method)

    assert _has_callback(route("fast"), V)  # the check can fail: the host route has one
    assert not _has_callback(route("device"), V)
    assert not _has_callback(jax.grad(lambda v: route("device")(v)[..., 0].sum()), V)
    # R = 10 (kd = 22): the default device route has the blocked first stage
    V10 = jnp.zeros((2, lattice.num_sites(10)))
    assert not _has_callback(
        lambda v: lattice.couplings_from_potential(v, 10, method="device"), V10
    )


def test_jit_vmap_and_single_matrix_agree():
    rng = np.random.default_rng(6)
    ab = rng.normal(size=(2, 3, 4, 13))
    nested = jax.jit(jax.vmap(jax.vmap(_band_device.band_spectrum)))(ab)
    leading = jax.jit(_band_device.band_spectrum)(ab)
    single = jax.jit(_band_device.band_spectrum)(ab[1, 2])
    for a, b in zip(nested, leading):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)
    for a, b in zip(single, leading):
        np.testing.assert_allclose(a, b[1, 2], rtol=0, atol=1e-13)


def test_degenerate_members_fall_back_to_dense_eigh():
    # the clean lattice (W = 0, symmetric: degenerate levels) next to a disordered one
    R = 3
    hop = np.asarray(lattice.hamiltonian(R, 0.0, theta0=0.0))
    V = np.stack([np.zeros(hop.shape[0]), np.asarray(lattice.potential(R, 5.0, theta0=0.1))])
    H = hop + V[:, :, None] * np.eye(hop.shape[0])
    lam, amp = jax.jit(_band_device.band_spectrum)(band_storage(H, lattice.bandwidth(R)))
    assert_matches(lam[0], amp[0], *dense_reference(H[0]))
    assert_matches(lam[1], amp[1], *dense_reference(H[1]))
    assert np.min(np.diff(np.asarray(lam[0]))) < 1e-12  # it was degenerate


def test_dense_fallback_only_for_close_pairs_that_mix():
    # R = 4 lattices, tridiagonalized: (0) W = 0, degenerate; (1) the symmetric lattice
    # split by W = 1e-3, whose close pairs overlap each other and site 0 (twisted
    # factorizations err there by ~1e-11 against dense eigh); (2) W = 1e4 with the site
    # farthest from the grain given the grain's energy + 1e-4: an almost degenerate pair
    # (gap ~2e-3 after the hopping shifts, 2e-7 relative) localized on two sites far
    # apart, which twisted factorizations get right (the bound 8 eps ||T|| / gap alone,
    # ~1e-8, sent such realizations dense)
    R = 4
    hop = np.asarray(lattice.hamiltonian(R, 0.0, theta0=0.0))
    v_far = np.array(lattice.potential(R, 1e4, key=jax.random.key(2), kind="random"))
    far = int(np.argmax(np.abs(np.asarray(lattice.sites(R))).sum(axis=1)))
    v_far[far] = v_far[0] + 1e-4
    V = np.stack([np.zeros(len(hop)), np.asarray(lattice.potential(R, 1e-3, theta0=0.3)), v_far])
    H = hop + V[:, :, None] * np.eye(len(hop))
    d, e = jax.jit(_band_device.band_to_tridiagonal)(band_storage(H, lattice.bandwidth(R)))
    lam = jax.jit(_band_device.tridiagonal_eigenvalues)(d, e)
    amp, flagged = jax.jit(_band_device.amplitudes_and_flags)(d, e, lam)
    assert flagged.tolist() == [True, True, False]
    lam_ref, amp_ref = dense_reference(H[2])
    assert np.min(np.diff(lam_ref)) < 1e-2  # the close pair is there
    assert_matches(lam[2], amp[2], lam_ref, amp_ref)
    # the flag is needed where it is raised: twisted amplitudes err at W = 1e-3
    err = np.max(np.abs(np.asarray(amp[1]) - dense_reference(H[1])[1]))
    assert err > 1e-13


def test_non_finite_input_gives_nan():
    ab = np.ones((2, 3, 8))
    ab[1, 0, 3] = np.nan
    lam, amp = jax.jit(_band_device.band_spectrum)(ab)
    assert np.all(np.isfinite(lam[0])) and np.all(np.isnan(lam[1])) and np.all(np.isnan(amp[1]))


def test_grad_matches_finite_differences_and_eigh_route():
    R = 2
    V0 = np.asarray(lattice.potential(R, 3.0, theta0=0.7))

    def ipr(V, method):  # sum_k |phi_k(0)|^4 weighted by energy: smooth at W = 3
        g = lattice.couplings_from_potential(V, R, method=method)
        return jnp.sum(g**4 * jnp.arange(g.shape[-1]))

    grad = jax.jit(jax.grad(lambda v: ipr(v, "device")))(V0)
    np.testing.assert_allclose(grad, jax.jit(jax.grad(lambda v: ipr(v, "eigh")))(V0), atol=1e-12)
    f = jax.jit(lambda v: ipr(v, "device"))
    fd = fd_grad(lambda v: float(f(v)), V0, 1e-5, index=[0, 3, 7])
    np.testing.assert_allclose(np.asarray(grad)[[0, 3, 7]], fd[[0, 3, 7]], atol=1e-7)


def test_dense_hamiltonian_route():
    rng = np.random.default_rng(8)
    H = rng.normal(size=(2, 9, 9))
    H = H + np.swapaxes(H, -1, -2)
    g = jax.jit(lambda h: spectral.couplings_from_hamiltonian(h, site=4, method="device"))(H)
    for i in range(2):
        lam, vectors = np.linalg.eigh(H[i])
        np.testing.assert_allclose(g[i], np.abs(vectors[4]), atol=1e-12)


@pytest.mark.slow  # minutes: two sweep compilations, one in a 4-device subprocess
def test_sweep_on_four_emulated_devices_matches_one(tmp_path):
    # no callback, so no deadlock: the chunk is sharded over all 4 devices
    kw = dict(
        kind="random",
        R=[2],
        W=[20.0, 90.0],
        n_draws=6,
        seed=3,
        chunk_size=8,
        method="device",
        progress=False,
    )
    script = textwrap.dedent(f"""
        import jax, json
        from jaxmf.analysis import ensemble
        assert len(jax.local_devices()) == 4, jax.local_devices()
        assert ensemble.chunk_devices("device", 13) == 4
        res = ensemble.sweep({str(tmp_path / "four")!r}, **{kw!r})
        assert res.complete.all()
    """)
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "OPENBLAS_NUM_THREADS": "1",
        "JAX_PLATFORMS": "cpu",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    from jaxmf.analysis import ensemble

    one = ensemble.sweep(tmp_path / "one", **kw)
    four = ensemble.load(tmp_path / "four")
    for field in ("eta_tot", "n_thermal", "iterations"):
        np.testing.assert_allclose(getattr(four, field), getattr(one, field), rtol=1e-12)
    np.testing.assert_array_equal(four.avalanche, one.avalanche)


def test_method_names():
    assert "device" in lattice.METHODS and "device" in spectral.ROUTES
    assert spectral.resolve_method("device", 5) == "device"
    # "auto": never on CPU (slower than "fast", measured); on accelerators for band
    # matrices from N = 1000 on (projected to overtake batched dense eigh between
    # N = 685 and 1013), never for dense matrices or wide bands
    for n, kd in ((5101, 102), (221, 22)):
        assert spectral.resolve_method("auto", n, kd, backend="cpu") in ("fast", "eigh")
    assert spectral.resolve_method("auto", 5101, 102, backend="gpu") == "device"
    assert spectral.resolve_method("auto", 1013, 46, backend="gpu") == "device"
    assert spectral.resolve_method("auto", 685, 38, backend="gpu") == "eigh"
    assert spectral.resolve_method("auto", 5101, backend="gpu") == "eigh"  # dense H
    assert spectral.resolve_method("auto", 5101, 1000, backend="gpu") == "eigh"
    expected = "fast" if jax.default_backend() == "cpu" else "device"
    assert spectral.resolve_method("auto", 5101, 102) == expected


def test_chunk_size_budgets_band_storage_for_the_device_route():
    # on an accelerator with 8 GiB budgeted (no memory_stats on CPU): dense eigh needs
    # 4 N^2 doubles per realization, the device route 48 N (kd + 1)
    dense = ensemble.default_chunk_size(5101, 1, "gpu", method="eigh", bandwidth=102)
    band = ensemble.default_chunk_size(5101, 1, "gpu", method="device", bandwidth=102)
    limit = 8 * 2**30
    try:
        limit = jax.local_devices()[0].memory_stats()["bytes_limit"]
    except Exception:  # noqa: BLE001
        pass
    assert dense == max(1, min(1024, int(0.5 * limit // (32 * 5101**2))))
    assert band == max(1, min(1024, int(0.5 * limit // (384 * 5101 * 103))))
    assert band > dense
    # "auto" on an accelerator resolves to the device route for this band: same budget
    assert ensemble.default_chunk_size(5101, 1, "gpu", method="auto", bandwidth=102) == band
