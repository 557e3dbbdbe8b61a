"""Tests for jaxmf.models.ed: the central-grain (DRH) chain by exact diagonalization.

References: Kronecker-product Hamiltonians, brute-force partial traces, analytic
states and coupling limits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf  # noqa: F401  (float64)
from jaxmf.analysis import ed_statistics as es
from jaxmf.models import ed

LOG2 = np.log(2.0)
SX = np.array([[0.0, 1.0], [1.0, 0.0]])
SY = np.array([[0.0, -1j], [1j, 0.0]])
SZ = np.diag([1.0, -1.0])


def _kron(*factors):
    out = np.eye(1)
    for f in factors:
        out = np.kron(out, f)
    return out


def _brute_force_hamiltonian(params):
    """Eq. (1), (2) by Kronecker products; sigma_g on the last grain qubit, spins in order."""
    H_g, h, J = (np.asarray(x) for x in params)
    d_g, N = H_g.shape[0], h.shape[0]
    I2, Ig = np.eye(2), np.eye(d_g // 2)

    def on_spin(n, op):  # op on spin n (0-based), identity elsewhere
        return [op if m == n else I2 for m in range(N)]

    H = _kron(H_g, np.eye(2**N)).astype(complex)
    for n in range(N):
        H += h[n] * _kron(np.eye(d_g), *on_spin(n, SZ))
        H += J[n] * (_kron(Ig, SX, *on_spin(n, SX)) + _kron(Ig, SY, *on_spin(n, SY)))
    assert np.abs(H.imag).max() == 0.0  # sx sx + sy sy is real
    return H.real


@pytest.mark.parametrize("N", [1, 2, 3])
@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_hamiltonian_matches_kronecker_products(N, alpha):
    key = jax.random.key(N)
    params = ed.drh_parameters(N, alpha, key=key)
    H = np.asarray(ed.drh_hamiltonian(N, alpha, key=key))  # same key -> same parameters
    assert H.shape == (8 * 2**N,) * 2
    np.testing.assert_allclose(H, _brute_force_hamiltonian(params), atol=1e-14, rtol=0)
    np.testing.assert_array_equal(H, H.T)  # real symmetric


def test_parameters_follow_the_paper():
    """h_n in [0.9, 1.1], J_n = 0.41 alpha^(n-1) (eq. 12), grain rms exactly 1.5."""
    keys = jax.random.split(jax.random.key(1), 50)
    params = jax.vmap(lambda k: ed.drh_parameters(5, 0.6, key=k))(keys)
    H_g, h, J = (np.asarray(x) for x in params)
    assert H_g.shape == (50, 8, 8) and h.shape == (50, 5)
    np.testing.assert_array_equal(H_g, np.swapaxes(H_g, -1, -2))
    np.testing.assert_allclose(np.sqrt(np.einsum("sij,sij->s", H_g, H_g) / 8), 1.5, rtol=1e-14)
    assert h.min() >= 0.9 and h.max() <= 1.1 and h.std() > 0.03
    np.testing.assert_allclose(J, np.broadcast_to(0.41 * 0.6 ** np.arange(5), (50, 5)), rtol=1e-14)


def test_ensemble_grain_normalization():
    """grain_norm="ensemble": [tr(H_g^2)] / d_g = rms^2 on average, not per sample."""
    keys = jax.random.split(jax.random.key(2), 4000)
    H_g = jax.vmap(lambda k: ed.drh_parameters(1, 0.5, key=k, grain_norm="ensemble").H_g)(keys)
    ms = np.asarray(jnp.einsum("sij,sij->s", H_g, H_g) / 8)
    assert ms.std() > 0.1  # fluctuates from sample to sample
    assert abs(ms.mean() - 2.25) < 4 * ms.std() / np.sqrt(len(ms))


def test_no_magnetization_symmetry():
    """The flip-flop term conserves sz_g + sum_n sz_n, but the GOE grain breaks it.

    So H has no block structure in that quantum number; full diagonalization is needed.
    """
    N, key = 2, jax.random.key(3)
    params = ed.drh_parameters(N, 0.7, key=key)
    Mz = _kron(np.eye(4), SZ, np.eye(2**N)) + sum(
        _kron(np.eye(8), *[SZ if m == n else np.eye(2) for m in range(N)]) for n in range(N)
    )
    H = np.asarray(ed.central_grain_hamiltonian(params))
    assert np.abs(H @ Mz - Mz @ H).max() > 0.1
    no_grain = ed.central_grain_hamiltonian(params._replace(H_g=jnp.zeros((8, 8))))
    np.testing.assert_allclose(no_grain @ Mz - Mz @ no_grain, 0.0, atol=1e-14)


def test_end_spin_observables_analytic_states():
    """Reduced state of the last qubit: product -> 0, Schmidt (cos t, sin t) -> h(cos^2 t)."""
    t = 0.3
    rest0, rest1 = np.eye(4)[0], np.eye(4)[3]
    up, dn = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    plus = (up + dn) / np.sqrt(2)
    states = [
        np.kron(rest0, up),
        np.kron(rest1, plus),  # product, spin along x: no entanglement
        np.cos(t) * np.kron(rest0, up) + np.sin(t) * np.kron(rest1, dn),
        (np.kron(rest0, up) + np.kron(rest1, dn)) / np.sqrt(2),
        (np.kron(rest0, up) + 1j * np.kron(rest1, dn)) / np.sqrt(2),  # complex amplitudes
    ]
    obs = ed.end_spin_observables(jnp.asarray(np.stack(states, axis=1)))
    assert isinstance(obs, ed.EndSpinObservables)
    S, sz = obs.entropy, obs.sz
    c2 = np.cos(t) ** 2
    expected = [0.0, 0.0, -c2 * np.log(c2) - (1 - c2) * np.log(1 - c2), LOG2, LOG2]
    np.testing.assert_allclose(S, expected, atol=1e-15)
    np.testing.assert_allclose(sz, [1.0, 0.0, np.cos(2 * t), 0.0, 0.0], atol=1e-15)


def test_entropies_and_memory_match_brute_force_partial_trace():
    N, alpha, key = 2, 0.8, jax.random.key(4)
    res = ed.drh_end_spectrum(N, alpha, key=key)
    E, V = np.linalg.eigh(_brute_force_hamiltonian(ed.drh_parameters(N, alpha, key=key)))
    psi = V.T.reshape(-1, 16, 2)  # (eigenstate, rest, end spin)
    rho = np.einsum("ars,art->ast", psi, psi)
    lam = np.clip(np.linalg.eigvalsh(rho), 1e-300, 1)
    np.testing.assert_allclose(res.energies, E, atol=1e-12)
    np.testing.assert_allclose(res.entropy, -np.sum(lam * np.log(lam), -1), atol=1e-10)
    sz_end = _kron(np.eye(16), SZ)
    diag = np.einsum("ia,ij,ja->a", V, sz_end, V)
    np.testing.assert_allclose(res.memory, np.mean(diag**2), atol=1e-12)


@pytest.mark.parametrize("N", [1, 2, 4])
def test_entropies_are_finite_in_range_and_energy_ordered(N):
    res = ed.drh_end_spectrum(N, 0.9, key=jax.random.key(5), J1=0.8)
    assert res.entropy.shape == (8 * 2**N,)
    assert np.all(np.isfinite(res.entropy))
    assert res.entropy.min() >= 0.0 and res.entropy.max() <= LOG2
    assert np.all(np.diff(res.energies) >= 0)
    assert 0.0 <= res.memory <= 1.0


@pytest.mark.parametrize("N", [1, 3])
def test_product_state_limit(N):
    """J_1 = 0: eigenstates are product states (non-degenerate), so S_end = 0 and Czz = 1."""
    res = ed.drh_end_spectrum(N, 0.7, key=jax.random.key(6), J1=0.0)
    assert np.abs(res.entropy).max() < 1e-10
    np.testing.assert_allclose(res.memory, 1.0, atol=1e-10)


def test_strong_coupling_limit_single_spin():
    """N = 1, J_1 >> ||H_g||, h: the flip-flop term dominates and fixes the entropies.

    2 J (s+_g s-_1 + h.c.) has eigenvalues +-2J on the Bell pairs (|01> +- |10>)/sqrt2 of
    (grain qubit, spin), whose spin is maximally mixed (S = log 2, <sz> = 0), and 0 on
    |00>, |11>. H_g and h sz_1 mix states within each of the three sectors only; in the
    zero sector they preserve sz_1, so those eigenstates stay product states (S = 0,
    <sz> = +-1). Half the states in each class: the mean entropy -> log(2) / 2 and the
    memory -> 1/2. Corrections come from virtual hops through the Bell sectors, an
    effective 00 <-> 11 coupling ~ ||H_g||^2 / J (~1e-3 at J = 1e4, so S ~ 1e-4 at worst
    among near-degenerate pairs; 50 samples checked: deviation of the mean < 3e-5).
    A coupling that is too large does not thermalize the spin, which is why J_1 = 0.41
    sits below the grain bandwidth.
    """
    res = ed.drh_end_spectrum(1, 0.0, key=jax.random.key(7), J1=1e4)
    S = np.asarray(res.entropy)
    assert abs(S.mean() - LOG2 / 2) < 1e-3
    assert np.sum(S > LOG2 - 1e-2) == 8 and np.sum(S < 1e-2) == 8
    assert abs(res.memory - 0.5) < 1e-3


def test_intermediate_coupling_thermalizes_more_than_weak():
    """[S_end] grows with the coupling: O(g) resonant states at weak coupling (eq. 7b),
    most states hybridized at the paper's J_1 = 0.41 (N = 1 'thermalizes well', Sec. VI)."""
    keys = jax.random.split(jax.random.key(8), 8)
    weak = es.entropy_statistics(ed.drh_ensemble(1, 0.5, key=keys, J1=0.02).entropy)
    paper = es.entropy_statistics(ed.drh_ensemble(1, 0.5, key=keys).entropy)
    assert weak.mean_all < 0.1
    assert paper.mean_all > 0.3 and paper.mean_middle > paper.mean_all - 0.05


def test_vmap_and_ensemble_equal_loop():
    N, alpha = 2, 0.7
    keys = jax.random.split(jax.random.key(9), 5)
    looped = np.stack([ed.drh_end_entropies(N, alpha, key=k) for k in keys])
    vmapped = jax.vmap(lambda k: ed.drh_end_entropies(N, alpha, key=k))(keys)
    np.testing.assert_allclose(vmapped, looped, atol=1e-12)
    chunked = ed.drh_ensemble(N, alpha, key=keys, batch_size=2)  # 5 = 2 + 2 + 1
    np.testing.assert_allclose(chunked.entropy, looped, atol=1e-12)
    from_one_key = ed.drh_ensemble(N, alpha, key=jax.random.key(9), n_samples=5)
    np.testing.assert_allclose(from_one_key.entropy, looped, atol=1e-12)
    memory = [ed.drh_end_memory(N, alpha, key=k) for k in keys]
    np.testing.assert_allclose(chunked.memory, memory, atol=1e-12)


def test_jit_with_static_N_and_vmap_over_alpha():
    key = jax.random.key(10)
    f = jax.jit(ed.drh_end_entropies, static_argnums=0)
    np.testing.assert_allclose(
        f(2, 0.6, key=key), ed.drh_end_entropies(2, 0.6, key=key), atol=1e-12
    )
    alphas = jnp.array([0.3, 0.9])
    by_alpha = jax.vmap(lambda a: ed.drh_end_entropies(2, a, key=key))(alphas)
    np.testing.assert_allclose(by_alpha[1], ed.drh_end_entropies(2, 0.9, key=key), atol=1e-12)


def test_raw_uint32_keys():
    keys = jax.random.split(jax.random.PRNGKey(11), 3)  # (3, 2) uint32
    res = ed.drh_ensemble(1, 0.7, key=keys)
    np.testing.assert_allclose(
        res.entropy[2], ed.drh_end_entropies(1, 0.7, key=keys[2]), atol=1e-12
    )
    as_list = ed.drh_ensemble(1, 0.7, key=list(keys))  # a Python list of keys works too
    np.testing.assert_allclose(as_list.entropy, res.entropy, atol=1e-12)


def test_typed_and_raw_keys_give_the_same_realization():
    """jax.random.key(s) and PRNGKey(s) hold the same bits: the same numbers."""
    typed = ed.drh_ensemble(2, 0.7, key=jax.random.key(3), n_samples=2).entropy
    raw = ed.drh_ensemble(2, 0.7, key=jax.random.PRNGKey(3), n_samples=2).entropy
    np.testing.assert_array_equal(typed, raw)


def test_key_is_keyword_only():
    with pytest.raises(TypeError):
        ed.drh_end_entropies(1, 0.5, jax.random.key(0))
    with pytest.raises(TypeError):
        ed.drh_ensemble(1, 0.5, jax.random.key(0), 3)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda k: ed.drh_end_entropies(0, 0.7, key=k), "N"),
        (lambda k: ed.drh_end_entropies(2.0, 0.7, key=k), "N"),
        (lambda k: ed.drh_end_entropies(1, -0.1, key=k), "alpha"),
        (lambda k: ed.drh_end_entropies(1, float("nan"), key=k), "alpha"),
        (lambda k: ed.drh_end_entropies(1, 0.5, key=k, d_g=6), "d_g"),
        (lambda k: ed.drh_end_entropies(1, 0.5, key=k, d_g=1), "d_g"),
        (lambda k: ed.drh_end_entropies(1, 0.5, key=k, grain_rms=0.0), "grain_rms"),
        (lambda k: ed.drh_end_entropies(1, 0.5, key=k, h_width=-1.0), "h_width"),
        (lambda k: ed.drh_end_entropies(1, 0.5, key=k, J1=np.inf), "J1"),
        (lambda k: ed.drh_end_entropies(1, 0.5, key=k, grain_norm="x"), "grain_norm"),
        (lambda k: ed.drh_parameters(1, -1.0, key=k), "alpha"),
        (lambda k: ed.drh_ensemble(1, 0.5, key=k, n_samples=0), "n_samples"),
        (lambda k: ed.drh_ensemble(1, 0.5, key=k), "key"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=name) as err:
        call(jax.random.key(0))
    assert "must be" in str(err.value)


def test_unknown_parameter_is_a_type_error():
    with pytest.raises(TypeError, match="J_1"):
        ed.drh_end_entropies(1, 0.5, key=jax.random.key(0), J_1=0.3)


def test_entropy_statistics_and_middle_slice():
    assert es.middle_slice(24) == slice(8, 16)
    assert es.middle_slice(16) == slice(5, 11)
    S = np.array([np.r_[np.zeros(8), np.ones(8), np.zeros(8)], np.full(24, 0.5)]) * 0.6
    st = es.entropy_statistics(S)
    np.testing.assert_allclose(st.per_sample_all, [0.2, 0.3])
    np.testing.assert_allclose(st.per_sample_middle, [0.6, 0.3])
    np.testing.assert_allclose([st.mean_all, st.mean_middle], [0.25, 0.45])
    np.testing.assert_allclose([st.stderr_all, st.stderr_middle], [0.05, 0.15])
    assert np.isnan(es.entropy_statistics(S[:1]).stderr_all)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            es.middle_slice(24, bad)


def test_entropy_histogram_is_a_density_on_0_log2():
    S = np.asarray(ed.drh_ensemble(1, 0.5, key=jax.random.key(12), n_samples=4).entropy)
    hist = es.entropy_histogram(S, bins=20)
    assert isinstance(hist, es.EntropyHistogram)
    edges, density, err = hist
    assert edges[0] == 0.0 and edges[-1] == LOG2 and density.shape == err.shape == (20,)
    np.testing.assert_allclose(np.sum(density * np.diff(edges)), 1.0, rtol=1e-12)
    pooled = np.histogram(S.ravel(), bins=edges, density=True)[0]  # equal D per sample
    np.testing.assert_allclose(density, pooled, rtol=1e-12)
    mid = es.entropy_histogram(S, bins=20, middle_fraction=1 / 3).density
    np.testing.assert_allclose(np.sum(mid * np.diff(edges)), 1.0, rtol=1e-12)
    assert np.isnan(es.entropy_histogram(S[:1], bins=20).stderr).all()


@pytest.mark.slow
def test_largest_chain_N10():
    """N = 10 (D = 8192), one realization: runs, finite, in range (minutes on a CPU)."""
    res = ed.drh_end_spectrum(10, 0.7, key=jax.random.key(13))
    assert res.entropy.shape == (8192,)
    assert res.entropy.min() >= 0.0 and res.entropy.max() <= LOG2
    assert 0.0 < float(jnp.mean(res.entropy)) < LOG2


@pytest.mark.slow
def test_end_spin_entropy_falls_with_alpha_N8():
    """Localized side (alpha < alpha_c) the end spin is far less entangled than thermal side."""
    key = jax.random.key(14)
    low = es.entropy_statistics(ed.drh_ensemble(8, 0.5, key=key, n_samples=6).entropy)
    high = es.entropy_statistics(ed.drh_ensemble(8, 0.9, key=key, n_samples=6).entropy)
    assert low.mean_all + 5 * low.stderr_all < high.mean_all - 5 * high.stderr_all
