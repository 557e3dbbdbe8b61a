"""jaxmf.models.lattice: the 2D grain + lattice model (Sec. VII, eq. 15-18).

jit / vmap / grad of the couplings are in test_transformations.py; entropy maps and
collars in test_lattice_maps.py.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from jaxmf.models import _banded, lattice, square

TWO_PI = 2 * np.pi


def _kw(kind, i=0):
    if kind == "qp":
        return dict(theta0=0.37 + 1.3 * i, kind=kind)
    return dict(key=jax.random.key(i), kind=kind)


# --------------------------------------------------------------------------- geometry
@pytest.mark.parametrize("R", range(7))
def test_site_list(R):
    s = lattice.sites(R)
    assert s.shape == (2 * R * R + 2 * R + 1, 2) == (lattice.num_sites(R), 2)
    assert s.dtype.kind == "i"
    assert tuple(s[0]) == (0, 0)  # site 0 is the origin
    expected = {
        (a, b) for a, b in itertools.product(range(-R, R + 1), repeat=2) if abs(a) + abs(b) <= R
    }
    assert set(map(tuple, s)) == expected and len(set(map(tuple, s))) == len(s)
    # pairs (-n, n) follow the origin
    np.testing.assert_array_equal(s[1::2], -s[2::2])


@pytest.mark.parametrize("R", [1, 2, 5])
def test_hopping_matrix_symmetric_and_banded(R):
    H = np.asarray(lattice.hamiltonian(R, 0.0, theta0=0.0))
    s = lattice.sites(R)
    np.testing.assert_array_equal(H, H.T)
    dist = np.abs(s[:, None, :] - s[None, :, :]).sum(-1)
    np.testing.assert_array_equal(H, (dist == 1).astype(float))  # nearest neighbours, t = 1
    i, j = np.nonzero(H)
    assert np.max(np.abs(i - j)) == lattice.bandwidth(R) == 2 * R + 2
    assert len(lattice.bonds(R)) == 4 * R * R == np.count_nonzero(H) // 2
    # the band template used by the fast path is the same matrix
    ab = square(R).band.template
    np.testing.assert_array_equal(_banded._dense_from_band(ab), H)


# --------------------------------------------------------------------------- potential
def test_triangle_wave_shape():
    a = TWO_PI / lattice.Q[0]
    v = lattice.triangle_wave
    np.testing.assert_allclose(
        [v(0.0), v(a), v(TWO_PI), v(a / 2), v((a + TWO_PI) / 2)],
        [1.0, -1.0, 1.0, 0.0, 0.0],
        atol=1e-14,
    )
    theta = np.linspace(-20, 20, 4001)
    vals = np.asarray(v(theta))
    assert vals.min() >= -1 and vals.max() <= 1
    np.testing.assert_allclose(v(theta + 3 * TWO_PI), vals, atol=1e-12)  # period 2 pi
    # asymmetric: no inversion centre, the minimum is at 2 pi / q1 ~ 0.618 (not pi)
    assert a == pytest.approx(2 / (1 + np.sqrt(5)))


def test_qp_potential():
    R, W, theta0 = 4, 7.5, 1.1
    V = lattice.potential(R, W, theta0=theta0)
    theta = lattice.sites(R) @ (np.pi * np.array([1 + np.sqrt(5), 1 + np.sqrt(3)])) + theta0
    np.testing.assert_allclose(V, W * lattice.triangle_wave(theta), atol=1e-13)
    assert float(V[0]) == pytest.approx(W * float(lattice.triangle_wave(theta0)))
    assert np.all(np.abs(V) <= W)


def test_random_potential_uniform():
    R, W = 30, 3.0
    V = np.concatenate(
        [
            np.asarray(lattice.potential(R, W, key=jax.random.key(i), kind="random"))
            for i in range(3)
        ]
    )
    assert np.all(np.abs(V) <= W)
    assert scipy.stats.kstest(V, scipy.stats.uniform(-W, 2 * W).cdf).pvalue > 1e-3
    a, b = (lattice.potential(R, W, key=jax.random.key(i), kind="random") for i in (0, 1))
    assert not np.allclose(a, b)


# --------------------------------------------------------------------------- couplings
@pytest.mark.parametrize("R, Ws", [(1, (2.0, 7.0)), (10, (0.5, 5.0, 40.0)), (22, (40.0, 100.0))])
@pytest.mark.parametrize("kind", ["qp", "random"])
def test_fast_path_matches_eigh(R, Ws, kind):
    """The fast path (band reduction + tridiagonal eigenvectors) against dense eigh,
    over weak to strong disorder, both kinds, under jit and vmap."""
    Ws = jnp.repeat(jnp.asarray(Ws), 2)
    thetas = jnp.tile(jnp.array([0.1, 2.954]), len(Ws) // 2)
    keys = jax.random.split(jax.random.key(R), len(Ws))

    def run(method):
        if kind == "qp":
            f = lambda w, t: lattice.origin_spectrum(R, w, theta0=t, method=method)  # noqa: E731
            return jax.jit(jax.vmap(f))(Ws, thetas)
        f = lambda w, k: lattice.origin_spectrum(R, w, key=k, kind=kind, method=method)  # noqa: E731
        return jax.jit(jax.vmap(f))(Ws, keys)

    (e_eigh, a_eigh), (e_fast, a_fast) = run("eigh"), run("fast")
    # completeness sum_k |phi_k(0)|^2 = 1 and ascending energies, on both paths
    np.testing.assert_allclose(jnp.sum(a_eigh**2, -1), 1.0, atol=1e-12)
    np.testing.assert_allclose(jnp.sum(a_fast**2, -1), 1.0, atol=1e-12)
    assert np.all(np.diff(np.asarray(e_eigh), axis=-1) >= 0)
    assert np.all(np.diff(np.asarray(e_fast), axis=-1) >= 0)
    assert float(jnp.max(jnp.abs(a_fast - a_eigh))) < 1e-10
    assert float(jnp.max(jnp.abs(e_fast - e_eigh))) < 1e-9 * max(float(Ws.max()), 1)


@pytest.mark.parametrize("driver", ["sbtrd", "sb2st"])
def test_band_reduction_drivers(driver):
    if driver == "sb2st" and _banded._sb2st is None:
        pytest.skip("dsytrd_sb2st not found in this scipy build")
    R, W = 10, 20.0
    ab = np.array(square(R).band.template, order="F")
    ab[0] = np.asarray(lattice.potential(R, W, theta0=0.9))
    d, e = _banded.band_to_tridiagonal(ab, driver=driver)
    assert d[0] == ab[0, 0]  # site 0 is untouched by the rotations
    lam = scipy.linalg.eigvalsh_tridiagonal(d, e)
    amp = _banded.first_components(jnp.asarray(d), jnp.asarray(e), jnp.asarray(lam))
    e_ref, a_ref = lattice.origin_spectrum(R, W, theta0=0.9, method="eigh")
    np.testing.assert_allclose(lam, e_ref, atol=1e-11)
    np.testing.assert_allclose(amp, a_ref, atol=1e-12)


def test_degenerate_spectrum_falls_back_to_dense():
    # twisted factorizations cannot separate degenerate eigenvectors: the host detects
    # (near-)degenerate eigenvalues of T and answers with a dense eigh instead
    R = 6
    ab = np.array(square(R).band.template, order="F")
    ab[0] = 0.0  # clean lattice: degenerate
    assert bool(_banded.tridiagonal_host(ab)[-1])
    ab[0] = np.asarray(lattice.potential(R, 30.0, theta0=1.0))
    assert not bool(_banded.tridiagonal_host(ab)[-1])
    ab[0, 3] = np.nan
    assert np.all(np.isnan(_banded.tridiagonal_host(ab)[2]))


@pytest.mark.slow
@pytest.mark.parametrize("R", [33, 50])
@pytest.mark.parametrize("kind", ["qp", "random"])
def test_fast_path_matches_eigh_large(R, kind):
    for i, W in enumerate((5.0, 20.0, 45.0, 100.0)):
        kw = _kw(kind, i)
        _, a_eigh = lattice.origin_spectrum(R, W, method="eigh", **kw)
        _, a_fast = lattice.origin_spectrum(R, W, method="fast", **kw)
        assert float(jnp.max(jnp.abs(a_fast - a_eigh))) < 1e-10


def test_strong_disorder_couplings_decay():
    # at W = 100 the orbitals are localized: the typical coupling falls by ~W per step
    # away from the origin, down to ~1e-16 at r = 8, and the fast path resolves it
    _, phi = lattice.orbitals(8, 100.0, theta0=0.3)
    g = np.asarray(lattice.bare_couplings(8, 100.0, theta0=0.3, method="fast"))
    r = lattice.orbital_radii(phi, 8)
    np.testing.assert_allclose(g, np.abs(np.asarray(phi[:, 0])), atol=1e-15)
    typical = [np.median(g[r == k]) for k in range(9)]
    assert typical[0] > 0.99 and np.all(np.diff(np.log(typical)) < -1.0)
    assert typical[-1] < 1e-12


@pytest.mark.parametrize("method", ["eigh", "fast"])
def test_star_graph_R1(method):
    # R = 1, W = 0: the origin and its 4 neighbours form a star graph: E = -2, 0, 0, 0, 2;
    # only the symmetric combinations (E = +-2) touch the origin, each with weight 1/2.
    energies, amp = lattice.origin_spectrum(1, 0.0, theta0=0.0, method=method)
    np.testing.assert_allclose(energies, [-2, 0, 0, 0, 2], atol=1e-14)
    amp = np.asarray(amp)
    np.testing.assert_allclose(amp[[0, 4]], np.sqrt(0.5), atol=1e-14)
    np.testing.assert_allclose(amp[1:4], 0.0, atol=1e-14)


def _cluster_weights(energies, amp, tol=1e-8):
    # weights summed over (numerically) degenerate eigenvalues: basis independent
    energies, w = np.asarray(energies), np.asarray(amp) ** 2
    starts = np.r_[0, np.nonzero(np.diff(energies) > tol)[0] + 1]
    return energies[starts], np.add.reduceat(w, starts)


@pytest.mark.parametrize("R", [4, 10])
def test_clean_lattice(R):
    e_eigh, a_eigh = lattice.origin_spectrum(R, 0.0, theta0=0.0, method="eigh")
    e_fast, a_fast = lattice.origin_spectrum(R, 0.0, theta0=0.0, method="fast")
    # bipartite lattice: the spectrum and the spectral measure of the origin are
    # symmetric about 0, and the band is [-4, 4]
    np.testing.assert_allclose(e_eigh, -e_eigh[::-1], atol=1e-12)
    assert float(jnp.max(jnp.abs(e_eigh))) < 4
    levels, weights = _cluster_weights(e_eigh, a_eigh)
    np.testing.assert_allclose(levels, -levels[::-1], atol=1e-12)
    np.testing.assert_allclose(weights, weights[::-1], atol=1e-12)
    # degenerate spectrum: the fast path agrees up to the basis within degenerate levels
    np.testing.assert_allclose(e_fast, e_eigh, atol=1e-12)
    levels_fast, weights_fast = _cluster_weights(e_fast, a_fast)
    np.testing.assert_allclose(levels_fast, levels, atol=1e-12)
    np.testing.assert_allclose(weights_fast, weights, atol=1e-12)


def test_g0_scaling():
    g1 = lattice.bare_couplings(10, 8.0, theta0=1.0)
    g2 = lattice.bare_couplings(10, 8.0, g0=2.5, theta0=1.0)
    np.testing.assert_allclose(g2, 2.5 * g1, rtol=1e-14)
    assert float(jnp.sum(g1**2)) == pytest.approx(1.0, abs=1e-12)


def test_resolve_method():
    # "auto": the fast path on CPU from 200 sites up (R >= 10), dense eigh below and on
    # accelerators; explicit choices pass through
    fast_on_cpu = "fast" if jax.default_backend() == "cpu" else "eigh"
    assert lattice.resolve_method("auto", lattice.num_sites(10)) == fast_on_cpu
    assert lattice.resolve_method("auto", lattice.num_sites(9)) == "eigh"
    assert lattice.resolve_method("eigh", 10**4) == "eigh"
    assert lattice.resolve_method("fast", 5) == "fast"
    with pytest.raises(ValueError, match="method must be one of"):
        lattice.resolve_method("lanczos", 100)


@pytest.mark.parametrize("method", ["eigh", "fast"])
def test_couplings_from_potential(method):
    R = 4
    N = lattice.num_sites(R)
    # a triangle-wave potential: the same couplings as bare_couplings
    thetas = (0.7, 2.954)
    V = jnp.stack([lattice.potential(R, 90.0, theta0=t) for t in thetas])
    g = lattice.couplings_from_potential(V, R, g0=0.5, method=method)
    ref = jnp.stack(
        [lattice.bare_couplings(R, 90.0, g0=0.5, theta0=t, method="eigh") for t in thetas]
    )
    assert g.shape == (2, N)
    np.testing.assert_allclose(g, ref, atol=1e-12)
    # any potential (here Gaussian), batched over two leading axes; reference: NumPy's
    # dense eigh of the hopping matrix plus diag(V), |phi_k(0)| by ascending energy
    Vr = np.random.default_rng(5).normal(0.0, 10.0, (2, 3, N))
    g = np.asarray(lattice.couplings_from_potential(Vr, R, method=method))
    assert g.shape == (2, 3, N)
    hop = np.asarray(lattice.hamiltonian(R, 0.0, theta0=0.0))
    for i, j in itertools.product(range(2), range(3)):
        _, phi = np.linalg.eigh(hop + np.diag(Vr[i, j]))
        np.testing.assert_allclose(g[i, j], np.abs(phi[0]), atol=1e-12)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: lattice.sites(-1), "R"),
        (lambda: lattice.sites(2.5), "R"),
        (lambda: lattice.bare_couplings(-2, 1.0, theta0=0.0), "R"),
        (lambda: lattice.bare_couplings(3.0, 1.0, theta0=0.0), "R"),
        (lambda: lattice.bare_couplings(3, -1.0, theta0=0.0), "W"),
        (lambda: lattice.bare_couplings(3, float("nan"), theta0=0.0), "W"),
        (lambda: lattice.bare_couplings(3, 1.0, g0=-0.1, theta0=0.0), "g0"),
        (lambda: lattice.bare_couplings(3, 1.0, g0=float("nan"), theta0=0.0), "g0"),
        (lambda: lattice.bare_couplings(3, 1.0), "theta0"),
        (lambda: lattice.bare_couplings(3, 1.0, kind="random"), "key"),
        (lambda: lattice.bare_couplings(3, 1.0, theta0=0.0, kind="aubry"), "kind"),
        (lambda: lattice.bare_couplings(3, 1.0, theta0=0.0, method="lanczos"), "method"),
        (lambda: lattice.potential(3, -5.0, theta0=0.0), "W"),
        (lambda: lattice.assign_orbitals(np.ones((3, 4))), "phi"),
        (lambda: lattice.orbital_radii(np.eye(5), 1, how="max"), "how"),
        (lambda: lattice.couplings_from_potential(np.zeros(12), 2), "V must have shape"),
        (lambda: lattice.couplings_from_potential(np.float64(0.0), 0), "V must have shape"),
        (lambda: lattice.couplings_from_potential(np.zeros(13), 2, g0=-1.0), "g0"),
        (lambda: lattice.couplings_from_potential(np.zeros(13), 2, method="qr"), "method"),
        (lambda: lattice.couplings_from_potential(np.zeros(13), -2), "R"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- labelling
def test_assignment_is_permutation_and_local_at_strong_disorder():
    R = 6
    _, phi = lattice.orbitals(R, 80.0, theta0=2.954)
    site_of = lattice.assign_orbitals(phi)
    assert sorted(site_of.tolist()) == list(range(lattice.num_sites(R)))
    # strong disorder: each orbital sits on one site, and is labelled by it
    np.testing.assert_array_equal(site_of, np.argmax(np.abs(np.asarray(phi)), axis=1))
    # weak disorder: still a permutation
    _, phi = lattice.orbitals(R, 1.0, key=jax.random.key(0), kind="random")
    site_of = lattice.assign_orbitals(phi)
    assert sorted(site_of.tolist()) == list(range(lattice.num_sites(R)))


def test_assignment_maximises_product():
    rng = np.random.default_rng(0)
    phi = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    site_of = lattice.assign_orbitals(phi)
    best = max(
        itertools.permutations(range(5)), key=lambda p: np.prod(np.abs(phi[np.arange(5), list(p)]))
    )
    np.testing.assert_array_equal(site_of, best)


def test_orbital_radii():
    R = 5
    _, phi = lattice.orbitals(R, 100.0, theta0=0.4)
    r_assign = lattice.orbital_radii(phi, R)
    r_centre = lattice.orbital_radii(phi, R, how="centre")
    # localized orbitals: the centre is the assigned site, up to a few resonant pairs
    assert np.mean(np.abs(r_centre - r_assign) < 0.05) > 0.9
    assert r_assign[np.argmax(np.abs(np.asarray(phi[:, 0])))] == 0
