"""The paper's 2D lattice through the model contract: numbers unchanged bit for bit.

The reference numbers below were computed with the implementation that preceded the
model contract (jaxmf.models.lattice with its own geometry and spectral code, the
analysis functions taking (R, theta0 | key, kind)), at the commit the contract was
built on, and pasted here. On the machine that recorded them the couplings agreed bit
for bit; LAPACK's eigh differs between CPUs (OpenBLAS picks its kernels per processor:
on an AMD EPYC the couplings differ from the references by up to 5e-14 relative), so
they are compared to 1e-12 relative, far below any change the contract could make by
mistake (a wrong site order or potential changes them at O(1)). Quantities that also
pass through the mean-field solver (eta_tot, thresholds, sweeps, the critical score) are
compared to 1e-12 relative (sweeps: 1e-11, eta_tot near a bottleneck amplifies the
coupling round-off ~30x): the solver itself was corrected after these numbers were taken
(round-off level changes, 1 ulp of eta_tot), independently of the models.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmf.analysis import ensemble, thresholds
from jaxmf.analysis.rare import critical
from jaxmf.models import QPPhase, RandomKey, lattice, square

# (R, method) -> [g[0], g[5 or 7], g[-1], sum g^3]; qp: W = 7.5, g0 = 0.8, theta0 = 0.3;
# random: W = 12, g0 = 1, key(11)
COUPLINGS = {
    ("qp", 3, "eigh"): [
        0.007367220184853408,
        0.05132517783292095,
        0.008042567663608408,
        0.2814124320222352,
    ],
    ("random", 3, "eigh"): [
        0.055056561845618,
        0.009205193043432378,
        0.004984488216690925,
        0.827444651112344,
    ],
    ("qp", 10, "fast"): [
        0.00017651689977991961,
        0.0012232042111943056,
        0.0002318938469276069,
        0.1652787306914982,
    ],
    ("random", 10, "fast"): [
        5.114346339659137e-05,
        0.0017865201462138284,
        0.0011047024467631308,
        0.5107126887313743,
    ],
    ("qp", 10, "eigh"): [
        0.00017651689977992216,
        0.0012232042111943097,
        0.00023189384692758183,
        0.1652787306914998,
    ],
    ("random", 10, "eigh"): [
        5.114346339659289e-05,
        0.0017865201462138511,
        0.0011047024467631809,
        0.5107126887313732,
    ],
}


def _summary(g, kind):
    return [float(g[0]), float(g[5 if kind == "qp" else 7]), float(g[-1]), float(jnp.sum(g**3))]


@pytest.mark.parametrize("kind, R, method", list(COUPLINGS))
def test_couplings_bit_for_bit(kind, R, method):
    if kind == "qp":
        real, W, g0, old = QPPhase(0.3), 7.5, 0.8, dict(theta0=0.3)
    else:
        real, W, g0, old = RandomKey(jax.random.key(11)), 12.0, 1.0, dict(key=jax.random.key(11))
    new = square(R).couplings(W, g0, real, method=method)
    ref = pytest.approx(COUPLINGS[kind, R, method], rel=1e-12, abs=0)
    assert _summary(new, kind) == ref
    paper_call = lattice.bare_couplings(R, W, g0=g0, kind=kind, method=method, **old)
    assert _summary(paper_call, kind) == ref


def test_eta_tot_and_gradient_bit_for_bit():
    model, real = square(4), QPPhase(1.1)
    close = functools.partial(pytest.approx, rel=1e-12)
    assert float(thresholds.eta_tot(model, 20.0, g0=1.0, realization=real)) == close(
        28.419034402825414
    )
    assert float(thresholds.eta_tot(4, 60.0, g0=1.0, realization=real)) == close(28.41595631466962)
    slope = jax.grad(
        lambda w: thresholds.eta_tot(model, w, g0=1.0, realization=real, method="eigh")
    )(60.0)
    assert float(slope) == pytest.approx(-0.0007124574454502969, rel=1e-9)


def test_threshold_bit_for_bit():
    t = thresholds.threshold_W(
        square(4), np.array([1.1, 2.0]), W_min=0.0, W_max=200.0, n_scan=21, rtol=1e-9
    )
    np.testing.assert_allclose(t.W_aval, [66.72395008811374, 105.84303023995957], rtol=1e-12)
    np.testing.assert_allclose(t.W_fail, [66.72395012643037, 105.84303031512042], rtol=1e-12)
    np.testing.assert_allclose(t.W_fold, [66.72395009738834, 105.84303027137642], rtol=1e-12)
    assert t.status.tolist() == [0, 0]


def test_critical_score_bit_for_bit():
    V = lattice.potential(3, 9.0, key=jax.random.key(2), kind="random")
    # the reference is the 20-step bisection (resolution 40 / 2^21 = 2e-5 in log g0)
    assert float(
        critical.critical_log_g0(V, square(3), method="eigh", solver="bisect").log_scale
    ) == pytest.approx(-4.350605010986328, abs=2e-5)


def test_sweep_bit_for_bit(tmp_path):
    qp = ensemble.sweep(
        tmp_path / "qp", kind="qp", R=[3], W=[20.0, 90.0], n_draws=3, progress=False
    )
    np.testing.assert_allclose(
        qp.eta_tot.ravel(),
        [
            17.318407856947992,
            17.328615030051605,
            17.279362105672536,
            3.7331477363763215,
            7.677860458493323,
            7.021191361759572,
        ],
        rtol=1e-11,
    )
    rnd = ensemble.sweep(
        tmp_path / "rnd",
        model=square,
        kind="random",
        R=[3],
        W=[20.0, 90.0],
        n_draws=3,
        seed=5,
        progress=False,
    )
    np.testing.assert_allclose(
        rnd.eta_tot.ravel(),
        [
            17.328214962891003,
            17.328134210435852,
            17.326199555528486,
            5.706014985557765,
            8.784412946239119,
            2.8647492442670712,
        ],
        rtol=1e-11,
    )
