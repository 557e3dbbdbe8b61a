"""jit, vmap and grad (and their combinations) over the public functions.

References: gradients against central finite differences (tests/helpers.py) of the
eager function; jit and vmap results against eager calls (point by point where the
function is not elementwise). Equal up to round-off (``ULP``): XLA fuses and
vectorizes differently under jit and vmap. Small systems throughout (N = 41, 50).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf import meanfield as mf
from jaxmf import resonance
from jaxmf.analysis import symmetric_fold, thresholds
from jaxmf.models import QPPhase, RandomKey, chain, lattice

from .helpers import QP_R, fd_derivative, fd_grad, fd_jvp

DISTS = ["goe", "poisson"]
ULP = 1e-12  # relative: round-off of different fusion / vectorization


def _close(a, b, rtol=ULP, atol=0.0):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _check_elementwise(f, x, h, rtol, atol):
    """f elementwise in x (1D): grad, jit, vmap and their combinations.

    References: the eager f(x), and its finite differences for the derivative.
    jit(vmap(grad f)) against the finite differences; the eager grad f at one point,
    jit(f), jit(vmap(f)) and jit(grad(sum vmap f)) against those (f is elementwise, so
    the gradient of the sum is the elementwise derivative). The combinations run
    compiled: one XLA compilation each instead of one per primitive.
    """
    eager = np.asarray(f(x))
    d = jax.grad(f)
    grads = np.asarray(jax.jit(jax.vmap(d))(x))
    np.testing.assert_allclose(grads, fd_derivative(f, x, h), rtol=rtol, atol=atol)
    _close(d(x[1]), grads[1])
    _close(jax.jit(f)(x), eager)
    _close(jax.jit(jax.vmap(f))(x), eager)
    _close(jax.jit(jax.grad(lambda y: jnp.sum(jax.vmap(f)(y))))(x), grads)


# --------------------------------------------------------------------------- single l-bit
@pytest.mark.parametrize("name", ["eta", "mean_entropy", "czz"])
def test_single_lbit_observables(name):
    # goe only: for these the families differ in table values and quadrature nodes,
    # not in code path (both families are covered by test_entropy_pdf / resonance_pdf)
    fn = getattr(jaxmf, name)
    g = jnp.array([1e-4, 0.02, 0.4, 2.5])
    # atol: FD rounding, eps * f / h ~ 1e-11
    _check_elementwise(fn, g, 1e-6 * g, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("dist", DISTS)
def test_entropy_pdf(dist):
    S = jnp.array([0.05, 0.3, 0.6])
    g = jnp.array([0.05, 0.5, 3.0])
    # in g at fixed S, and in S at fixed g (away from the kinks of the goe table density)
    _check_elementwise(lambda x: jaxmf.entropy_pdf(0.3, x, dist), g, 1e-6 * g, rtol=1e-6, atol=1e-9)
    _check_elementwise(lambda s: jaxmf.entropy_pdf(s, 0.5, dist), S, 1e-7, rtol=1e-5, atol=1e-7)
    # both at once: the jvp along (dS, dg) = (1, 2)
    f = lambda x: jaxmf.entropy_pdf(x[0], x[1], dist)  # noqa: E731
    x, v = jnp.array([0.3, 0.5]), jnp.array([1.0, 2.0])
    jvp = float(jax.jit(lambda x, v: jax.jvp(f, (x,), (v,))[1])(x, v))
    assert jvp == pytest.approx(fd_jvp(f, x, v, 1e-7), rel=1e-5)


@pytest.mark.parametrize("dist", DISTS)
def test_resonance_pdf(dist):
    g_a = jnp.array([0.1, 1.0, 5.0])
    g = jnp.array([0.2, 0.7, 4.0])
    _check_elementwise(
        lambda x: jaxmf.resonance_pdf(x, 0.3, dist), g_a, 1e-6 * g_a, rtol=1e-5, atol=1e-9
    )
    _check_elementwise(
        lambda x: jaxmf.resonance_pdf(1.0, x, dist), g, 1e-6 * g, rtol=1e-5, atol=1e-9
    )


@pytest.mark.parametrize(
    "fn",
    [
        jaxmf.resonance_probability,
        jaxmf.entropy,
        lambda g: jaxmf.overlap_k(g, 0.3),
        lambda g: jaxmf.overlap_k(g, g),
        lambda g: resonance.k_minus_one(0.7, g),
    ],
    ids=["P", "S", "K(g, 0.3)", "K(g, g)", "K-1(0.7, g)"],
)
def test_resonance_functions(fn):
    g = jnp.array([0.01, 0.2, 1.0, 3.0])
    _check_elementwise(fn, g, 1e-6, rtol=1e-7, atol=1e-10)


# --------------------------------------------------------------------------- the solver
def _eta_tot(g0):
    return jaxmf.solve(g0).eta_tot


def test_solve_gradient_in_bare_couplings(fig3a_chain):
    g0 = jnp.asarray(fig3a_chain.g0)
    grad = np.asarray(jax.grad(_eta_tot)(g0))
    assert np.all(grad >= -1e-12 * grad.max())  # a larger coupling never lowers eta_tot
    # the l-bits that matter (g_n ~ 1); saturated ones have d eta_tot / d g0 ~ 0, below
    # the FD noise floor (solver tolerance / h)
    top = np.argsort(-np.abs(grad * fig3a_chain.g0))[:4]
    fd = fd_grad(_eta_tot, g0, 1e-5 * g0, index=top)
    np.testing.assert_allclose(grad[top], fd[top], rtol=1e-5)
    # jvp along all couplings at once (the scale direction) = grad . g0
    jvp = float(jax.jvp(_eta_tot, (g0,), (g0,))[1])
    assert jvp == pytest.approx(float(grad @ fig3a_chain.g0), rel=1e-12)
    assert jvp == pytest.approx(fd_jvp(_eta_tot, g0, g0, 1e-6), rel=1e-5)


def test_solve_gradient_through_drh_couplings(fig3a_chain):
    N, a0, g10 = fig3a_chain.N, fig3a_chain.alpha, fig3a_chain.g10

    def eta_tot(g10, alpha):
        return jaxmf.solve(chain.drh_couplings(N, alpha, g10)).eta_tot

    d_g10, d_alpha = jax.grad(eta_tot, argnums=(0, 1))(g10, a0)
    assert float(d_g10) > 0 and float(d_alpha) > 0
    assert float(d_g10) == pytest.approx(
        fd_derivative(lambda x: eta_tot(x, a0), g10, 1e-6), rel=1e-5
    )
    assert float(d_alpha) == pytest.approx(
        fd_derivative(lambda a: eta_tot(g10, a), a0, 1e-7), rel=1e-5
    )
    # the log form with log_input=True: same derivative
    d_log = jax.grad(
        lambda a: jaxmf.solve(chain.drh_log_couplings(N, a, g10), log_input=True).eta_tot
    )(a0)
    assert float(d_log) == pytest.approx(float(d_alpha), rel=1e-10)
    # a smooth function of the couplings (the thermalized count) differentiates too
    nstar = lambda a: mf.n_thermal(jaxmf.solve(chain.drh_couplings(N, a, g10)))  # noqa: E731
    assert float(jax.grad(nstar)(a0)) == pytest.approx(fd_derivative(nstar, a0, 1e-7), rel=1e-5)


def test_solve_vmap_and_jit_of_grad(fig3a_chain):
    N = fig3a_chain.N
    alphas = jnp.array([0.5, 0.6, fig3a_chain.alpha])
    f = lambda a: jaxmf.solve(chain.drh_couplings(N, a)).eta_tot  # noqa: E731
    looped = np.array([float(jax.grad(f)(a)) for a in alphas])
    assert np.all(looped > 0)
    _close(jax.jit(jax.vmap(jax.grad(f)))(alphas), looped, rtol=1e-12)
    _close(jax.jit(jax.grad(lambda a: jnp.sum(jax.vmap(f)(a))))(alphas), looped, rtol=1e-12)


def test_solve_batched_jit_vmap_equal_loop():
    alphas = np.linspace(0.4, 0.75, 12).reshape(3, 4)
    g0 = np.asarray(chain.drh_couplings(50, alphas))
    batched = jaxmf.solve(g0)
    assert batched.eta_tot.shape == (3, 4) and batched.g.shape == (3, 4, 50)
    for i in range(3):
        for j in range(4):
            one = jaxmf.solve(g0[i, j])
            for a, b in zip(one, batched):
                _close(a, np.asarray(b)[i, j], rtol=1e-13, atol=1e-300)
    # jit of vmap, every field
    vm = jax.jit(jax.vmap(jaxmf.solve))(g0.reshape(12, 50))
    for a, b in zip(vm, batched):
        _close(a, np.asarray(b).reshape((12,) + np.shape(b)[2:]), rtol=1e-13, atol=1e-300)


# --------------------------------------------------------------------------- 2D lattice
THETAS = jnp.array([0.3, 0.7, 2.954, 4.0])  # at W = 90: 0.3 avalanches, the rest fail


@pytest.mark.parametrize("method", ["eigh", "fast"])
def test_lattice_eta_tot_gradient_in_W_and_g0(method, qp_failed):
    R, theta0 = qp_failed.R, qp_failed.theta0

    def f(W, g0):
        return thresholds.eta_tot(R, W, g0=g0, realization=QPPhase(theta0), method=method)

    d_W, d_g0 = (float(x) for x in jax.grad(f, argnums=(0, 1))(90.0, 1.0))
    # failed avalanche: smooth in W and g0; stronger disorder, weaker couplings
    assert d_W < 0 < d_g0
    assert d_W == pytest.approx(fd_derivative(lambda w: f(w, 1.0), 90.0, 1e-3), rel=1e-6)
    assert d_g0 == pytest.approx(fd_derivative(lambda g: f(90.0, g), 1.0, 1e-4), rel=1e-6)
    # the same through solve(bare_couplings(...)) as a user would write it
    d_W2 = jax.grad(
        lambda w: jaxmf.solve(lattice.bare_couplings(R, w, theta0=theta0, method=method)).eta_tot
    )(90.0)
    assert float(d_W2) == pytest.approx(d_W, rel=1e-12)


def test_lattice_eta_tot_random_kind_gradient_in_g0():
    key = jax.random.key(3)
    f = lambda g0: thresholds.eta_tot(  # noqa: E731
        QP_R, 150.0, g0=g0, realization=RandomKey(key)
    )
    d = float(jax.grad(f)(1.0))
    assert d > 0 and d == pytest.approx(fd_derivative(f, 1.0, 1e-4), rel=1e-6)


def test_lattice_eta_tot_vmap_jit_grad_over_phases():
    def f(W, t):
        return thresholds.eta_tot(QP_R, W, realization=QPPhase(t), method="eigh")

    d = jax.grad(f)
    looped = np.array([float(d(90.0, t)) for t in THETAS])
    assert np.all(np.isfinite(looped)) and np.all(looped[1:] < 0)
    _close(jax.jit(jax.vmap(d, in_axes=(None, 0)))(90.0, THETAS), looped, rtol=1e-10)
    gv = jax.jit(jax.grad(lambda w: jnp.sum(jax.vmap(lambda t: f(w, t))(THETAS))))(90.0)
    assert float(gv) == pytest.approx(looped.sum(), rel=1e-10)
    # values: vmap over W and theta0 at once, under jit, against eager calls
    Ws = jnp.array([20.0, 90.0, 90.0, 150.0])
    values = jax.jit(jax.vmap(f))(Ws, THETAS)
    _close(values, [float(f(w, t)) for w, t in zip(Ws, THETAS)], rtol=1e-10)


@pytest.mark.parametrize("method", ["eigh", "fast"])
def test_bare_couplings_vmap_and_jit_equal_loop(method):
    R, W = QP_R, 12.0
    one = lambda t, w=W: lattice.bare_couplings(R, w, theta0=t, method=method)  # noqa: E731
    looped = jnp.stack([one(t) for t in THETAS])
    _close(jax.vmap(one)(THETAS), looped, atol=1e-14)
    keys = jax.random.split(jax.random.key(3), 3)
    rnd = lambda k: lattice.bare_couplings(R, W, key=k, kind="random", method=method)  # noqa: E731
    _close(jax.vmap(rnd)(keys), jnp.stack([rnd(k) for k in keys]), atol=1e-14)
    # nested vmap (W x theta0)
    grid = jax.vmap(lambda w: jax.vmap(lambda t: one(t, w))(THETAS))(jnp.array([3.0, W]))
    _close(grid[1], looped, atol=1e-14)
    _close(grid[0], jnp.stack([one(t, 3.0) for t in THETAS]), atol=1e-14)
    # jit with every parameter traced but R, kind and method
    f = jax.jit(lattice.bare_couplings, static_argnums=0, static_argnames=("kind", "method"))
    _close(
        f(R, 9.0, g0=0.5, theta0=2.0, method=method),
        lattice.bare_couplings(R, 9.0, g0=0.5, theta0=2.0, method=method),
        atol=1e-14,
    )
    _close(
        f(R, 9.0, key=keys[0], kind="random", method=method),
        lattice.bare_couplings(R, 9.0, key=keys[0], kind="random", method=method),
        atol=1e-14,
    )


def test_bare_couplings_gradients_fast_equal_eigh():
    # the fast path differentiates through a custom JVP; eigh through jnp.linalg.eigh
    def loss(W, t, method):
        return jnp.sum(jnp.log(lattice.bare_couplings(QP_R, W, theta0=t, method=method)))

    for t in (0.8, 2.954):
        grads = [float(jax.grad(loss)(7.0, t, m)) for m in ("eigh", "fast")]
        assert grads[1] == pytest.approx(grads[0], rel=1e-10)
        fd = fd_derivative(lambda w, t=t: loss(w, t, "eigh"), 7.0, 1e-5)
        assert grads[0] == pytest.approx(fd, rel=1e-6)
    jvp = jax.jvp(
        lambda w: lattice.bare_couplings(QP_R, w, theta0=0.8, method="fast"), (7.0,), (1.0,)
    )[1]
    jvp_fd = fd_derivative(
        lambda w: lattice.bare_couplings(QP_R, w, theta0=0.8, method="eigh"), 7.0, 1e-5
    )
    np.testing.assert_allclose(jvp, jvp_fd, rtol=1e-5, atol=1e-9)


# --------------------------------------------------------------------------- symmetric
def test_critical_coupling_gradient_in_N():
    """g_c(N) = exp(f(l*)), with l* found by bisection (no derivative flows through it);
    at the fold f'(l*) = 0, so dg_c/dN is exact anyway (envelope theorem)."""
    Ns = jnp.array([20.0, 100.0, 1000.0])
    f = symmetric_fold.critical_coupling
    _check_elementwise(f, Ns, 1e-2 * Ns / 100, rtol=1e-6, atol=0.0)
    _close(f(100), f(Ns)[1])  # an integer N is the same N
