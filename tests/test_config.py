"""Importing jaxmf switches on float64; if it is switched off again, jaxmf refuses to run
instead of computing in float32."""

import jax
import numpy as np
import pytest

import jaxmf
from jaxmf.models import lattice


def test_import_enables_x64():
    assert jax.config.read("jax_enable_x64")
    assert jaxmf.solve(np.array([0.1, 0.2])).eta_tot.dtype == np.float64


@pytest.mark.parametrize(
    "call",
    [
        lambda: jaxmf.solve(np.array([0.1, 0.2])),
        lambda: jaxmf.eta(0.3),
        lambda: jaxmf.mean_entropy(0.3),
        lambda: jaxmf.czz(0.3),
        lambda: jaxmf.entropy_pdf(0.3, 1.0),
        lambda: jaxmf.resonance_pdf(0.3, 1.0),
        lambda: jaxmf.critical_log_scale(np.log([0.1, 0.2])),
        lambda: lattice.bare_couplings(2, 10.0, theta0=0.3),
    ],
)
def test_x64_switched_off_is_refused(call):
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(RuntimeError, match="float64"):
            call()
    finally:
        jax.config.update("jax_enable_x64", True)
    call()  # and runs again once x64 is back on
