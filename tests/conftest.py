"""Shared fixtures: the reference systems of tests/helpers.py, built once per session.

Importing jaxmf (here, before any test module) switches on float64 for the whole run.
Implicit rank promotion (adding a (3,) array to a (2, 3) one without saying so) raises
in the test session, so a broadcasting slip fails loudly instead of giving wrong shapes.
"""

import jax
import pytest

import jaxmf

from . import helpers

jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_report_header(config):
    return (
        f"jaxmf {jaxmf.__version__}, jax {jax.__version__} "
        f"({jax.default_backend()}, {jax.device_count()} device(s)), "
        f"x64={jax.config.jax_enable_x64}, "
        f"rank promotion={jax.config.jax_numpy_rank_promotion}"
    )


@pytest.fixture(scope="session", autouse=True)
def _float64():
    """Every test runs in float64: jaxmf enables it on import."""
    assert jax.config.jax_enable_x64
    yield
    assert jax.config.jax_enable_x64


@pytest.fixture(scope="session")
def fig3a_chain():
    """The DRH chain of Fig. 3(a): N = 50, alpha = alpha_c - 0.07, g_{1,0} = 1/2."""
    return helpers.drh_chain()


@pytest.fixture(scope="session")
def fig3a_solution(fig3a_chain):
    """jaxmf.solve of :func:`fig3a_chain` (goe)."""
    return jaxmf.solve(fig3a_chain.g0)


@pytest.fixture(scope="session")
def symmetric_100():
    """N = 100 equal couplings and their exact critical coupling g_c(100)."""
    return helpers.symmetric_system(100)


@pytest.fixture(scope="session")
def qp_failed():
    """QP lattice R = 4, theta0 = 2.954, W = 90: a failed avalanche (dense eigh)."""
    return helpers.qp_realization(helpers.QP_W_FAILED)


@pytest.fixture(scope="session")
def qp_avalanche():
    """The same QP realization at W = 20: an avalanche."""
    return helpers.qp_realization(helpers.QP_W_AVALANCHE)
