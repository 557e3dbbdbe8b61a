"""Second derivatives through the fixed point (implicit differentiation of the implicit
rule itself), checked against central differences of the exact first derivative."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf.analysis import thresholds
from jaxmf.models import QPPhase, chain


def _fd_of_grad(grad, x, h):
    """Central differences of ``grad`` (R^n -> R^n) at x: an independent Hessian."""
    x = jnp.asarray(x, jnp.float64)
    cols = [
        (grad(x.at[i].add(h[i])) - grad(x.at[i].add(-h[i]))) / (2 * h[i]) for i in range(x.size)
    ]
    return np.stack([np.asarray(c) for c in cols])


@pytest.mark.parametrize("transform", ["hessian", "jacfwd_grad", "jacrev_grad"])
def test_drh_chain_second_derivative_in_alpha(transform):
    # a failed avalanche of the DRH chain (N = 20, alpha = 0.6 < alpha_c)
    f = lambda a: jaxmf.solve(chain.drh_couplings(20, a)).eta_tot  # noqa: E731
    grad = jax.grad(f)
    second = {
        "hessian": jax.hessian(f),
        "jacfwd_grad": jax.jacfwd(grad),
        "jacrev_grad": jax.jacrev(grad),
    }[transform](0.6)
    fd = (grad(0.6 + 1e-5) - grad(0.6 - 1e-5)) / 2e-5
    assert float(second) == pytest.approx(float(fd), rel=1e-6)
    assert float(second) < -900  # the curvature grows towards alpha_c (it is ~ -1000)


def test_hessian_in_the_bare_couplings():
    g0 = chain.drh_couplings(8, 0.6)
    f = lambda x: jaxmf.solve(x).eta_tot  # noqa: E731
    H = np.asarray(jax.hessian(f)(g0))
    fd = _fd_of_grad(jax.grad(f), g0, np.full(8, 1e-6))
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())
    assert np.abs(H - H.T).max() <= 1e-12 * np.abs(H).max()  # a Hessian is symmetric


@pytest.mark.parametrize(
    "R, method", [(4, "eigh"), pytest.param(5, "fast", marks=pytest.mark.slow)]
)
def test_lattice_hessian_in_W_and_g0(R, method):
    def f(p):
        return thresholds.eta_tot(R, p[0], g0=p[1], realization=QPPhase(2.954), method=method)

    p = jnp.array([90.0, 1.0])
    H = np.asarray(jax.hessian(f)(p))
    fd = _fd_of_grad(jax.grad(f), p, np.array([1e-3, 1e-5]))
    np.testing.assert_allclose(H, fd, rtol=1e-6)


@pytest.mark.slow  # about 10 s; the Hessian itself is checked above
def test_vmap_of_hessian_matches_loop():
    f = lambda a: jaxmf.solve(chain.drh_couplings(12, a)).eta_tot  # noqa: E731
    alphas = jnp.array([0.5, 0.6, 0.65])
    batched = jax.vmap(jax.hessian(f))(alphas)
    for a, b in zip(alphas, batched):
        assert float(b) == pytest.approx(float(jax.hessian(f)(a)), rel=1e-10)


def test_second_derivative_near_the_fold():
    # the symmetric model just below its fold g_c (exact, symmetric_fold.critical_coupling):
    # eta_tot ~ H_c - A sqrt(1 - s), so the second derivative grows like (1 - s)^(-3/2)
    from jaxmf.analysis import symmetric_fold

    gc = float(symmetric_fold.critical_coupling(50))
    f = lambda s: jaxmf.solve(jnp.full(50, gc) * s).eta_tot  # noqa: E731
    grad = jax.grad(f)
    second = []
    for s, h in ((1 - 1e-4, 1e-7), (1 - 1e-6, 1e-9)):
        d2 = float(jax.hessian(f)(s))
        assert d2 == pytest.approx(float((grad(s + h) - grad(s - h)) / (2 * h)), rel=1e-5)
        second.append(d2)
    assert second[1] / second[0] == pytest.approx(100.0**1.5, rel=0.01)
