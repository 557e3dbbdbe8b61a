"""Every analysis takes a model: the 3D lattice and a user's model (defined here, not in
jaxmf) through sweep, thresholds, maps and the rare-event tools.

References: the model's own couplings solved directly (an independent path from the
sweep's chunked, sharded runner), the avalanche flag of direct solves on both sides of a
threshold bracket, and the geometry counted by brute force.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmf import avalanches, solve
from jaxmf.analysis import ensemble, lattice_maps, rare, thresholds
from jaxmf.models import (
    Model,
    QPPhase,
    RandomKey,
    TightBinding,
    chain1d,
    cubic,
    nearest_neighbour_bonds,
)


class DecayingCouplings(Model):
    """A user's coupling-only model: g_n = g0 exp(-W n / 4) |cos(q n + theta)| with theta
    = theta0 (QP) or iid uniform phases (random); N l-bits, no geometry."""

    def __init__(self, N):
        self.N, self.name = N, "decaying"

    def spec(self):
        return {"model": "decaying", "N": self.N}

    def couplings(self, W, g0, realization, *, method="auto"):
        n = jnp.arange(self.N, dtype=jnp.float64)
        if isinstance(realization, QPPhase):
            theta = 2.4 * n + realization.theta0
        else:
            theta = jax.random.uniform(realization.key, (self.N,), jnp.float64, 0, 2 * np.pi)
        return g0 * jnp.exp(-W * n / 4) * jnp.abs(jnp.cos(theta))


def ladder(R, potential="triangle"):
    """A user's tight-binding family: a two-leg ladder of length 2R + 1, grain in the
    middle of the lower leg (also used by the CLI test as tests/test_any_model:ladder)."""
    sites = np.array([(x, y) for x in range(-R, R + 1) for y in (0, 1)])
    return TightBinding(
        sites,
        nearest_neighbour_bonds(sites),
        grain=2 * R,
        potential=potential,
        q=np.pi * np.array([1 + 5**0.5, 1 + 3**0.5]),
        name="ladder",
        R=R,
    )


def _direct(model, W, g0, realizations):
    g = jnp.stack([model.couplings(W, g0, r) for r in realizations])
    return np.asarray(solve(g).eta_tot)


@pytest.mark.slow  # about 15 s; a user model's sweep and CLI run are checked fast below
def test_user_model_through_sweep_and_threshold(tmp_path):
    model = DecayingCouplings(12)
    res = ensemble.sweep(
        tmp_path / "s", model=model, kind="qp", W=[0.5, 3.0], n_draws=4, progress=False
    )
    assert res.N.tolist() == [12] and res.complete.all()
    assert res.parameters["model"] == {"12": {"model": "decaying", "N": 12}}
    for iW, W in enumerate(res.W):
        np.testing.assert_allclose(
            res.eta_tot[iW, 0], _direct(model, W, 1.0, [QPPhase(t) for t in res.theta0]), rtol=1e-12
        )
    # a resume with another model is refused
    with pytest.raises(ValueError, match="model"):
        ensemble.sweep(
            tmp_path / "s",
            model=DecayingCouplings(13),
            kind="qp",
            W=[0.5, 3.0],
            n_draws=4,
            progress=False,
        )
    t = thresholds.threshold_W(
        model, [0.3], g0=3.0, W_min=0.5, W_max=40.0, n_scan=9, rtol=1e-6, refine=False
    )
    lo, hi = float(t.W_aval[0]), float(t.W_fail[0])
    flags = [bool(avalanches(solve(model.couplings(w, 3.0, QPPhase(0.3))))) for w in (lo, hi)]
    assert t.status[0] == 0 and flags == [True, False]


@pytest.mark.slow
def test_cubic_lattice_through_sweep_threshold_maps_and_rare(tmp_path):
    res = ensemble.sweep(
        tmp_path / "c",
        model=cubic,
        R=[1, 2],
        kind="random",
        W=[4.0, 40.0],
        n_draws=3,
        seed=7,
        progress=False,
    )
    assert res.N.tolist() == [7, 25] and res.complete.all()
    for iR, R in enumerate(res.R):
        keys = [RandomKey(ensemble.draw_key(7, int(R), i)) for i in range(3)]
        for iW, W in enumerate(res.W):
            np.testing.assert_allclose(
                res.eta_tot[iW, iR], _direct(cubic(int(R)), W, 1.0, keys), rtol=1e-12
            )
    model = cubic(2)
    t = thresholds.threshold_W(model, [0.7], W_min=1.0, W_max=200.0, n_scan=11, rtol=1e-6)
    assert t.status[0] == 0
    flags = [
        bool(avalanches(solve(model.couplings(w, 1.0, QPPhase(0.7)))))
        for w in (float(t.W_aval[0]), float(t.W_fail[0]))
    ]
    assert flags == [True, False]
    m = lattice_maps.entropy_map(model, float(t.W_fail[0]) * 1.5, realization=QPPhase(0.7))
    assert m.sites.shape == (25, 3) and m.radius.max() == 2
    # rare events: the critical score decides the avalanche of direct solves; local moves
    # use the model's own distances to the grain (|n|_1 on the cubic lattice)
    np.testing.assert_array_equal(rare.moves.shells(model), np.abs(model.sites).sum(-1))
    keys = jax.random.split(jax.random.key(3), 12)
    V = jax.vmap(lambda k: model.potential_values(30.0, RandomKey(k)))(keys)
    lc = np.asarray(rare.critical_log_g0(V, model, n_bisect=40).log_scale)
    g = jax.vmap(lambda k: model.couplings(30.0, 0.3, RandomKey(k)))(keys)
    flag = np.asarray(avalanches(solve(g)))
    far = np.abs(lc - np.log(0.3)) > 1e-8
    np.testing.assert_array_equal(flag[far], (np.log(0.3) > lc)[far])
    e = rare.subset_estimate(
        model, 30.0, key=jax.random.key(1), g0=(0.3,), n=40, replicas=2, p0=0.25, max_levels=3
    )
    assert np.all(np.isfinite(e.f)) and e.conditional_V.shape[1] == 25


def test_cubic_lattice_sweep(tmp_path):
    res = ensemble.sweep(
        tmp_path / "c",
        model=cubic,
        R=[1],
        kind="random",
        W=[4.0],
        n_draws=2,
        seed=7,
        progress=False,
    )
    keys = [RandomKey(ensemble.draw_key(7, 1, i)) for i in range(2)]
    np.testing.assert_allclose(res.eta_tot[0, 0], _direct(cubic(1), 4.0, 1.0, keys), rtol=1e-12)
    assert res.parameters["model"] == {
        "1": {"model": "cubic", "R": 1, "potential": "triangle", "N": 7}
    }


def test_user_tight_binding_family_sweep(tmp_path):
    res = ensemble.sweep(
        tmp_path / "l", model=ladder, R=[2], kind="qp", W=[6.0], n_draws=2, progress=False
    )
    np.testing.assert_allclose(
        res.eta_tot[0, 0],
        _direct(ladder(2), 6.0, 1.0, [QPPhase(t) for t in res.theta0]),
        rtol=1e-12,
    )


def test_cli_takes_builtin_and_user_models(tmp_path, capsys):
    from jaxmf import cli

    folder = tmp_path / "sweep"
    status = cli.main(
        [
            "sweep",
            "--model",
            "tests.test_any_model:ladder",
            "--R",
            "1",
            "--W",
            "6",
            "--samples",
            "2",
            "--out",
            str(folder),
            "--quiet",
        ]
    )
    assert status == 0
    res = ensemble.load(folder)
    assert res.parameters["model"]["1"]["model"] == "tight-binding"
    np.testing.assert_allclose(
        res.eta_tot[0, 0],
        _direct(ladder(1), 6.0, 1.0, [QPPhase(t) for t in res.theta0]),
        rtol=1e-12,
    )
    out = tmp_path / "chain.json"
    assert (
        cli.main(
            [
                "lattice",
                "--model",
                "chain",
                "--potential",
                "cosine",
                "--R",
                "5",
                "--W",
                "3",
                "--theta0",
                "0.4",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    import json

    r = json.loads(out.read_text())["result"]
    expected = float(solve(chain1d(5, "cosine").couplings(3.0, 1.0, QPPhase(0.4))).eta_tot)
    assert r["N"] == 11 and r["eta_tot"] == pytest.approx(expected, rel=1e-12)
    assert (
        cli.main(
            ["lattice", "--model", "nowhere:nothing", "--R", "1", "--W", "3", "--theta0", "0.4"]
        )
        == 2
    )
    assert "--model nowhere:nothing" in capsys.readouterr().err
