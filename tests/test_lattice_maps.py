"""jaxmf.analysis.lattice_maps: entropy maps (Fig. 4) and collar radii (eq. 20)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf import meanfield as mf
from jaxmf.analysis import lattice_maps
from jaxmf.models import QPPhase, RandomKey, SymmetricModel, lattice


def _collar_brute(g, radii, eta_tot, d_g, eps):
    """eq. 20 by enumeration: the smallest R_c in {0} U radii with
    sum_{radii > R_c} g <= eps / (d_g exp(eta_tot))."""
    thr = eps / (d_g * np.exp(eta_tot))
    for rc in np.unique(np.r_[0, radii]):
        if g[radii > rc].sum() <= thr:
            return rc


# --------------------------------------------------------------------------- collar
def test_collar_radius_against_enumeration():
    rng = np.random.default_rng(1)
    radii = rng.integers(0, 12, size=200).astype(float)
    g = np.exp(-1.5 * radii) * rng.uniform(0.5, 1.5, size=200)
    for eta in (0.0, 1.0, 5.0, 20.0):
        for eps in (1e-3, 0.1, 10.0):
            got = float(lattice_maps.collar_radius(g, radii, eta, eps=eps))
            assert got == _collar_brute(g, radii, eta, 8, eps)
    # batched over realizations, with eta_tot per realization
    G = np.stack([g, 2 * g, g / 10])
    etas = np.array([1.0, 2.0, 3.0])
    got = lattice_maps.collar_radius(G, radii, etas, d_g=4)
    expected = [_collar_brute(G[i], radii, etas[i], 4, 0.1) for i in range(3)]
    np.testing.assert_array_equal(got, expected)
    # a huge bubble (threshold underflows to 0) pushes the collar to the largest radius;
    # an all-zero tail gives 0
    assert float(lattice_maps.collar_radius(g, radii, 1e4)) == radii.max()
    assert float(lattice_maps.collar_radius(np.where(radii > 0, 0.0, g), radii, 2.0)) == 0.0


def test_collar_radius_on_a_lattice():
    R = 8
    _, phi = lattice.orbitals(R, 60.0, theta0=1.0)
    g0 = jnp.abs(phi[:, 0])
    radii = lattice.orbital_radii(phi, R)
    rc = float(lattice_maps.collar_radius(g0, radii, 0.0))
    assert 0 < rc < R
    assert rc == _collar_brute(np.asarray(g0), np.asarray(radii), 0.0, 8, 0.1)
    # a larger bubble (larger d) needs a wider collar
    assert float(lattice_maps.collar_radius(g0, radii, 10.0)) >= rc


# --------------------------------------------------------------------------- entropy map
def test_entropy_map_of_a_failed_avalanche(qp_failed):
    R, W, theta0 = qp_failed.R, qp_failed.W, qp_failed.theta0
    m = lattice_maps.entropy_map(R, W, realization=QPPhase(theta0))
    N = lattice.num_sites(R)
    assert isinstance(m, lattice_maps.EntropyMap) and m.entropy.shape == (N,)
    np.testing.assert_array_equal(np.sort(m.site_of), np.arange(N))
    # the same realization solved directly (couplings from the fast/eigh spectrum of
    # bare_couplings, not from the orbitals): same solution, [S] permuted onto sites
    res = jaxmf.solve(qp_failed.couplings)
    assert m.eta_tot == pytest.approx(float(res.eta_tot), rel=1e-10)
    assert not m.avalanche and not bool(mf.avalanches(res))
    assert m.n_thermal == pytest.approx(float(mf.n_thermal(res)), rel=1e-10)
    np.testing.assert_allclose(
        np.sort(m.entropy), np.sort(np.asarray(mf.mean_entropies(res))), rtol=1e-8, atol=1e-14
    )
    assert m.n_thermal == pytest.approx(m.entropy.sum() / np.log(2), rel=1e-12)
    # Fig. 4: strongest entropy at the grain, nothing left at the edge
    assert m.entropy[0] == m.entropy.max()
    assert m.entropy[m.radius == R].max() < 1e-3
    np.testing.assert_array_equal(m.radius, np.abs(lattice.sites(R)).sum(-1))
    # the collar of the map is eq. 20 with the map's own radii
    rc = _collar_brute(m.g, m.radius[m.site_of], m.eta_tot, 8, 0.1)
    assert m.collar == rc and 0 <= m.collar <= R


def test_entropy_map_of_an_avalanche(qp_avalanche):
    m = lattice_maps.entropy_map(
        qp_avalanche.R, qp_avalanche.W, realization=QPPhase(qp_avalanche.theta0)
    )
    assert m.avalanche and np.allclose(m.entropy, np.log(2), atol=1e-2)
    assert m.n_thermal == pytest.approx(lattice.num_sites(qp_avalanche.R), rel=1e-2)


# --------------------------------------------------------------------------- collar radii
def test_failed_collar_radii(qp_failed):
    R, W, theta0 = qp_failed.R, qp_failed.W, qp_failed.theta0
    # theta0 = 0.3 avalanches at W = 90 (its collar is NaN), the others fail
    thetas = [theta0, 0.3, 0.7]
    col = lattice_maps.failed_collar_radii(R, W, realizations=QPPhase(thetas))
    assert isinstance(col, lattice_maps.CollarRadii)
    assert all(np.shape(x) == (3,) for x in col)
    np.testing.assert_array_equal(col.avalanche, [False, True, False])
    assert np.isnan(col.collar[1]) and np.all(np.isfinite(col.collar[[0, 2]]))
    assert col.collar[0] == lattice_maps.entropy_map(R, W, realization=QPPhase(theta0)).collar
    for i, t in enumerate(thetas):  # reference: a direct solve of each realization
        res = jaxmf.solve(lattice.bare_couplings(R, W, theta0=t, method="eigh"))
        assert col.eta_tot[i] == pytest.approx(float(res.eta_tot), rel=1e-10)
        assert col.n_thermal[i] == pytest.approx(float(mf.n_thermal(res)), rel=1e-10)
    # a tighter tolerance eps can only widen the collar
    tight = lattice_maps.failed_collar_radii(R, W, realizations=QPPhase(thetas), eps=1e-3)
    assert np.all(tight.collar[[0, 2]] >= col.collar[[0, 2]])
    # random potentials: one realization per key
    keys = jax.random.split(jax.random.key(0), 2)
    rnd = lattice_maps.failed_collar_radii(R, 150.0, realizations=RandomKey(keys))
    assert rnd.collar.shape == (2,) and rnd.avalanche.dtype == bool


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: lattice_maps.failed_collar_radii(
                SymmetricModel(3), 10.0, realizations=QPPhase([0.1])
            ),
            "geometry",
        ),
        (
            lambda: lattice_maps.failed_collar_radii(
                3, 10.0, realizations=QPPhase([0.1]), how="max"
            ),
            "how",
        ),
        (lambda: lattice_maps.entropy_map(3, 10.0, g0=-1.0, realization=QPPhase(0.1)), "g0"),
        (lambda: lattice_maps.entropy_map(3, -10.0, realization=QPPhase(0.1)), "W"),
        (lambda: lattice_maps.entropy_map(-3, 10.0, realization=QPPhase(0.1)), "R"),
        (lambda: lattice_maps.collar_radius([0.1, -0.2], [0, 1], 1.0), "dressed couplings"),
        (lambda: lattice_maps.collar_radius([0.1, np.nan], [0, 1], 1.0), "dressed couplings"),
        (lambda: lattice_maps.collar_radius([0.1, 0.2], [0, -1], 1.0), "radii"),
        (lambda: lattice_maps.collar_radius([0.1, 0.2], [0, 1], np.nan), "eta_tot"),
        (lambda: lattice_maps.collar_radius([0.1, 0.2], [0, 1], 1.0, d_g=0), "d_g"),
        (lambda: lattice_maps.collar_radius([0.1, 0.2], [0, 1], 1.0, eps=-0.1), "eps"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "realizations, match",
    [
        ([0.1], "QPPhase"),
        (RandomKey(jax.random.split(jax.random.PRNGKey(0), 2)), "typed"),
    ],
)
def test_bad_realizations(realizations, match):
    with pytest.raises(TypeError, match=match):
        lattice_maps.failed_collar_radii(3, 10.0, realizations=realizations)
