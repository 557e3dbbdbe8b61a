"""The model contract, tight-binding models from data, spectral routes, built-in lattices.

References: numpy's dense eigh (independent of the JAX routes), finite differences for
gradients, the exact Aubry-Andre localization length log(W / 2), and the lattice
geometry counted by brute force.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmf.models import (
    QPPhase,
    RandomKey,
    TightBinding,
    banded_ordering,
    chain1d,
    couplings_from_hamiltonian,
    cubic,
    spectral,
    square,
)


def _random_symmetric(rng, shape, n, band=None):
    a = rng.normal(size=shape + (n, n))
    if band is not None:
        i, j = np.indices((n, n))
        a = np.where(np.abs(i - j) <= band, a, 0.0)
    return (a + np.swapaxes(a, -1, -2)) / 2


# --------------------------------------------------------------------------- dense input
@pytest.mark.parametrize("method", ["eigh", "fast"])
@pytest.mark.parametrize("band", [None, 3])
def test_couplings_from_hamiltonian_matches_numpy(method, band):
    rng = np.random.default_rng(0)
    H = _random_symmetric(rng, (2, 3), 30, band)
    for site in (0, 17):
        g = couplings_from_hamiltonian(H, site=site, g0=0.7, method=method)
        assert g.shape == (2, 3, 30)
        w, v = np.linalg.eigh(H)  # numpy: independent of the JAX routes
        np.testing.assert_allclose(g, 0.7 * np.abs(v[..., site, :]), atol=1e-12)


def test_couplings_from_hamiltonian_jit_vmap_grad():
    rng = np.random.default_rng(1)
    H = jnp.asarray(_random_symmetric(rng, (4,), 12, band=2))
    for method in ("eigh", "fast"):
        f = jax.jit(jax.vmap(lambda h, m=method: couplings_from_hamiltonian(h, site=3, method=m)))
        np.testing.assert_allclose(f(H), couplings_from_hamiltonian(H, site=3), atol=1e-12)
    dH = jnp.asarray(_random_symmetric(rng, (), 12, band=2))

    def loss(t, method):
        return jnp.sum(
            couplings_from_hamiltonian(H[0] + t * dH, site=3, g0=1.3, method=method) ** 3
        )

    h = 1e-5
    fd = (loss(h, "eigh") - loss(-h, "eigh")) / (2 * h)
    for method in ("eigh", "fast"):
        assert abs(jax.grad(loss)(0.0, method) - fd) < 1e-7
    g0_grad = jax.grad(lambda g0: jnp.sum(couplings_from_hamiltonian(H[0], g0=g0)))(0.5)
    np.testing.assert_allclose(g0_grad, jnp.sum(couplings_from_hamiltonian(H[0])), rtol=1e-12)


def test_couplings_from_hamiltonian_bad_input():
    with pytest.raises(ValueError, match="H must"):
        couplings_from_hamiltonian(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="site"):
        couplings_from_hamiltonian(np.eye(3), site=3)
    with pytest.raises(ValueError, match="g0"):
        couplings_from_hamiltonian(np.eye(3), g0=-1.0)
    g = couplings_from_hamiltonian(np.full((3, 3), np.nan), method="fast")
    assert np.all(np.isnan(g))


@pytest.mark.parametrize("kind", ["qp", "random"])
def test_user_hamiltonian_of_paper_lattice_equals_builtin(kind):
    # a user builds H_2D (eq. 15) from the site list alone and gives it as a dense matrix
    R, W = 5, 11.0
    real = QPPhase(0.9) if kind == "qp" else RandomKey(jax.random.key(3))
    model = square(R)
    s = model.sites
    index = {tuple(p): i for i, p in enumerate(s.tolist())}
    H = np.diag(np.asarray(model.potential_values(W, real)))
    for i, p in enumerate(s.tolist()):
        for step in ((1, 0), (0, 1)):
            j = index.get((p[0] + step[0], p[1] + step[1]))
            if j is not None:
                H[i, j] = H[j, i] = 1.0
    for method in ("eigh", "fast"):
        np.testing.assert_allclose(
            couplings_from_hamiltonian(H, site=0, method=method),
            model.couplings(W, 1.0, real),
            atol=1e-12,
        )


# --------------------------------------------------------------------------- orderings
def _band_of(model):
    H = np.asarray(model.hamiltonian(np.zeros(model.N)))
    P = H[np.ix_(model.order, model.order)]
    i, j = np.nonzero(P)
    return int(np.max(np.abs(i - j))) if len(i) else 0


@pytest.mark.parametrize(
    "family, R, bound",
    [
        (chain1d, 6, lambda R: 2),
        (square, 6, lambda R: 2 * R + 2),
        (cubic, 3, lambda R: 2 * (2 * R * R + 2 * R + 1) + 1),
    ],
)
def test_banded_order_bandwidth(family, R, bound):
    model = family(R)
    assert model.order[0] == model.grain
    assert sorted(model.order.tolist()) == list(range(model.N))
    assert model.bandwidth == _band_of(model) <= bound(R)


def test_generic_ordering_on_paper_lattice():
    # the generic ordering of the 2D diamond: grain first, bandwidth at most ~2x the fold
    for R in (3, 6, 10):
        m = square(R)
        order, kd = banded_ordering(m.N, m.bonds, 0)
        assert order[0] == 0 and kd <= 4 * R + 2
        assert kd == spectral.bandwidth_of(m.bonds, order)


# --------------------------------------------------------------------------- lattices
def test_builtin_geometries():
    for R in range(4):
        c = cubic(R)
        pts = {n for n in itertools.product(range(-R, R + 1), repeat=3) if sum(map(abs, n)) <= R}
        assert set(map(tuple, c.sites.tolist())) == pts and c.N == len(pts)
        assert tuple(c.sites[c.grain]) == (0, 0, 0)
        np.testing.assert_array_equal(c.geometry.distance, np.abs(c.sites).sum(-1))
        assert len(c.bonds) == sum(
            1 for p in pts for a in range(3) if tuple(x + (k == a) for k, x in enumerate(p)) in pts
        )
        ch = chain1d(R)
        assert ch.N == 2 * R + 1 and ch.sites[ch.grain, 0] == 0
        np.testing.assert_array_equal(square(R).geometry.distance, np.abs(square(R).sites).sum(-1))


@pytest.mark.parametrize(
    "family, R, potential",
    [
        pytest.param(chain1d, 100, "cosine", marks=pytest.mark.slow),
        (cubic, 3, "triangle"),
        pytest.param(square, 10, "cosine", marks=pytest.mark.slow),
    ],
)
def test_fast_route_matches_eigh(family, R, potential):
    model = family(R, potential)
    for real in (QPPhase(0.4), RandomKey(jax.random.key(5))):
        a = model.couplings(13.0, 1.0, real, method="fast")
        b = model.couplings(13.0, 1.0, real, method="eigh")
        np.testing.assert_allclose(a, b, atol=1e-11)
        np.testing.assert_allclose(jnp.sum(a**2), 1.0, rtol=1e-12)


def test_model_jit_vmap_grad():
    model = cubic(2, "cosine")
    f = jax.jit(jax.vmap(lambda t, W: model.couplings(W, 0.5, QPPhase(t), method="eigh")))
    g = f(jnp.array([0.1, 0.2]), jnp.array([3.0, 4.0]))
    np.testing.assert_allclose(g[1], model.couplings(4.0, 0.5, QPPhase(0.2)), atol=1e-13)
    keys = jax.random.split(jax.random.key(0), 3)
    gr = jax.vmap(lambda k: model.couplings(3.0, 0.5, RandomKey(k)))(keys)
    np.testing.assert_allclose(gr[2], model.couplings(3.0, 0.5, RandomKey(keys[2])))

    def s(W):
        return jnp.sum(model.couplings(W, 1.0, QPPhase(0.3)) ** 3)

    h = 1e-5
    assert abs(jax.grad(s)(3.0) - (s(3.0 + h) - s(3.0 - h)) / (2 * h)) < 1e-7


def test_user_tight_binding_model_and_spec():
    # a ring of 7 sites with the grain on site 2 and one weak bond
    sites = np.arange(7)[:, None]
    bonds = [(i, (i + 1) % 7) for i in range(7)]
    hop = [1.0] * 6 + [0.3]
    m = TightBinding(sites, bonds, grain=2, hopping=hop, potential="cosine", q=[1.7])
    H = np.asarray(m.hamiltonian(m.potential_values(2.0, QPPhase(0.5))))
    assert H[6, 0] == 0.3 and H[2, 2] == 2.0 * np.cos(1.7 * 2 + 0.5)
    np.testing.assert_allclose(
        m.couplings(2.0, 1.0, QPPhase(0.5)), couplings_from_hamiltonian(H, site=2), atol=1e-13
    )
    spec = m.spec()
    assert spec["N"] == 7 and spec["potential"] == "cosine" and len(spec["data_sha256"]) == 64
    other = TightBinding(sites, bonds, grain=2, potential="cosine", q=[1.7])
    assert other.spec() != spec
    with pytest.raises(ValueError, match="kinds"):
        TightBinding(sites, bonds).couplings(1.0, 1.0, QPPhase(0.0))
    with pytest.raises(TypeError, match="QPPhase"):
        m.couplings(1.0, 1.0, 0.3)
    with pytest.raises(TypeError, match="typed"):
        m.couplings(1.0, 1.0, RandomKey(jax.random.PRNGKey(0)))
    with pytest.raises(ValueError, match="grain"):
        TightBinding(sites, bonds, grain=7)
    with pytest.raises(ValueError, match="bonds"):
        TightBinding(sites, [(0, 7)])


def test_aubry_andre_localization_length():
    # 1D cosine potential = Aubry-Andre with W = 2 lambda: for W > 2 every orbital decays
    # as exp(-|n - x_k| / xi) with 1 / xi = log(W / 2) exactly (Aubry-Andre duality).
    # Fit: least squares of log|phi_k(0)| against the distance |x_k| of orbital k's
    # centre (its largest component) from the grain, over the orbitals of 8 generic
    # phases (theta0 = 0, pi make the potential reflection symmetric about the grain and
    # odd orbitals vanish there) with 2 <= |x_k| <= min(40, 20 xi), where |phi_k(0)| >
    # ~1e-9 stays far above eigh's ~1e-16 floor. The fitted 1 / xi lies 1-7% above
    # log(W / 2) (the prefactor of the exponential depends on distance); tolerance 8%.
    model = chain1d(50, "cosine")
    for W in (3.0, 4.0, 6.0, 8.0):
        hi = min(40, int(20 / np.log(W / 2)))
        r, logs = [], []
        for t in 0.3 + np.linspace(0.0, 2 * np.pi, 8, endpoint=False):
            _, phi = model.orbitals(W, QPPhase(t))
            phi = np.abs(np.asarray(phi))
            centre = np.abs(model.sites[np.argmax(phi, axis=1), 0])
            use = (centre >= 2) & (centre <= hi)
            r.append(centre[use])
            logs.append(np.log(phi[use, model.grain]))
        slope = np.polyfit(np.concatenate(r), np.concatenate(logs), 1)[0]
        assert abs(-slope / np.log(W / 2) - 1) < 0.08, (W, slope)
