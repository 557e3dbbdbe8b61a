"""jaxmf.analysis.ensemble: resumable, chunked, sharded sweeps of the 2D lattice."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jaxmf
from jaxmf.analysis import ensemble
from jaxmf.meanfield import avalanches, n_thermal
from jaxmf.models import lattice

# one small QP sweep shared by several tests (R = 3, 4; a failed and an avalanching W)
QP = dict(kind="qp", R=[3, 4], W=[20.0, 90.0], n_draws=7)
CHUNK = 3


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "qp"
    return path, ensemble.sweep(path, **QP, chunk_size=CHUNK, progress=False)


def _assert_same(a, b, rtol=1e-10):
    for f in ("eta_tot", "n_thermal", "stability"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=rtol, atol=1e-12)
    for f in ("avalanche", "converged", "complete"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


# --------------------------------------------------------------------------- contents
def test_sweep_values_match_direct_solve(reference):
    _, res = reference
    assert res.eta_tot.shape == (2, 2, 7) and res.complete.all() and res.converged.all()
    np.testing.assert_allclose(res.theta0, ensemble.theta_grid(7))
    np.testing.assert_array_equal(res.N, [lattice.num_sites(3), lattice.num_sites(4)])
    for iW, iR, i in [(0, 0, 0), (1, 1, 5), (1, 0, 6)]:
        g = lattice.bare_couplings(int(res.R[iR]), res.W[iW], theta0=res.theta0[i])
        sol = jaxmf.solve(g)
        assert res.eta_tot[iW, iR, i] == pytest.approx(float(sol.eta_tot), rel=1e-10)
        assert res.avalanche[iW, iR, i] == bool(avalanches(sol))
        # one [S] table for the sweep and meanfield.n_thermal: equal up to the
        # round-off of the batched solve (~1e-13)
        assert res.n_thermal[iW, iR, i] == pytest.approx(float(n_thermal(sol)), rel=1e-10)
        assert res.stability[iW, iR, i] == pytest.approx(float(sol.stability), rel=1e-8)
        assert res.iterations[iW, iR, i] >= 1
    # W = 20 avalanches everywhere (eta_tot ~ N log 2), W = 90 mostly fails
    np.testing.assert_allclose(
        res.eta_tot[0], res.N[:, None] * np.log(2) * np.ones((1, 7)), rtol=2e-3
    )
    assert res.avalanche[0].all() and not res.avalanche[1].all()


def test_files_are_self_describing(reference):
    path, res = reference
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == ensemble.FORMAT
    assert manifest["jaxmf_version"] == jaxmf.__version__
    p = manifest["parameters"]
    assert p["kind"] == "qp" and p["R"] == [3, 4] and p["W"] == [20.0, 90.0]
    assert p["g0"] == 1.0 and p["dist"] == "goe" and p["seed"] is None
    assert p["method"] == "auto" and len(p["theta0"]) == 7
    assert set(manifest["fields"]) == set(ensemble.FIELDS)
    files = sorted((path / "chunks").glob("*.npz"))
    assert len(files) == 2 * 2 * 3  # (W, R) x ceil(7 / 3) chunks
    assert not list(path.rglob(".tmp-*"))  # atomic writes leave no temporaries
    with np.load(path / "chunks" / "R4_W1_3-6.npz") as z:
        assert float(z["W"]) == 90.0 and int(z["R"]) == 4
        np.testing.assert_array_equal(z["draws"], [3, 4, 5])
        np.testing.assert_allclose(z["theta0"], res.theta0[3:6])
        np.testing.assert_allclose(z["eta_tot"], res.eta_tot[1, 1, 3:6])
        assert str(z["method"]) in ("eigh", "fast")


def test_loader_round_trip(reference):
    path, res = reference
    again = ensemble.load(path)
    _assert_same(res, again, rtol=0)
    np.testing.assert_array_equal(res.iterations, again.iterations)
    assert again.parameters == res.parameters


# --------------------------------------------------------------------------- invariance
def test_chunking_invariance(tmp_path, reference):
    _, res = reference
    other = ensemble.sweep(tmp_path / "c", **{**QP, "R": [3]}, chunk_size=7, progress=False)
    ref3 = res._replace(**{f: getattr(res, f)[:, :1] for f in ensemble.FIELDS + ("complete",)})
    _assert_same(other, ref3)


def test_resume_after_interruption(tmp_path, reference):
    _, ref = reference
    path = tmp_path / "resume"
    calls = []
    part = ensemble.sweep(
        path,
        **QP,
        chunk_size=CHUNK,
        progress=False,
        max_chunks=5,
        on_chunk=lambda **kw: calls.append(kw),
    )
    assert len(calls) == 5 and part.complete.sum() == 3 + 3 + 1 + 3 + 3
    first = {p: p.stat().st_mtime_ns for p in (path / "chunks").glob("*.npz")}

    class Stop(Exception):
        pass

    def interrupt(**kw):  # an interruption (e.g. Ctrl-C) right after the 8th chunk
        calls.append(kw)
        if len(calls) == 8:
            raise Stop

    with pytest.raises(Stop):
        ensemble.sweep(path, **QP, chunk_size=CHUNK, progress=False, on_chunk=interrupt)
    assert ensemble.load(path).complete.sum() == part.complete.sum() + 3 + 3 + 1
    done = {(c["R"], c["W"], c["start"]) for c in calls}
    calls_before = len(calls)
    final = ensemble.sweep(
        path, **QP, chunk_size=CHUNK, progress=False, on_chunk=lambda **kw: calls.append(kw)
    )
    new = calls[calls_before:]
    assert len(new) == 12 - 8  # only the missing chunks are computed
    assert not done & {(c["R"], c["W"], c["start"]) for c in new}
    for p, t in first.items():  # nothing already written is rewritten
        assert p.stat().st_mtime_ns == t
    _assert_same(final, ref)
    # a complete sweep resumes to a no-op
    ensemble.sweep(
        path,
        **QP,
        chunk_size=CHUNK,
        progress=False,
        on_chunk=lambda **kw: pytest.fail("recomputed a chunk"),
    )


def test_resume_with_other_parameters_is_refused(reference):
    path, _ = reference
    with pytest.raises(ValueError, match="other parameters"):
        ensemble.sweep(path, **{**QP, "W": [20.0, 95.0]}, progress=False)
    with pytest.raises(ValueError, match="other parameters"):
        ensemble.sweep(path, **QP, g0=0.5, progress=False)


def test_random_draws_are_deterministic(tmp_path):
    kw = dict(kind="random", R=[3], W=[60.0], n_draws=5, seed=11, progress=False)
    res = ensemble.sweep(tmp_path / "r1", **kw, chunk_size=2)
    for i in (0, 4):
        g = lattice.bare_couplings(3, 60.0, key=ensemble.draw_key(11, 3, i), kind="random")
        assert res.eta_tot[0, 0, i] == pytest.approx(float(jaxmf.solve(g).eta_tot), rel=1e-10)
    assert res.theta0 is None and res.parameters["seed"] == 11
    # resuming with a different chunk size only fills the gaps, same numbers
    part = ensemble.sweep(tmp_path / "r2", **kw, chunk_size=2, max_chunks=1)
    assert part.complete.sum() == 2
    _assert_same(ensemble.sweep(tmp_path / "r2", **kw, chunk_size=4), res)
    other = ensemble.sweep(tmp_path / "r3", **{**kw, "seed": 12}, chunk_size=2)
    assert not np.allclose(other.eta_tot, res.eta_tot)


def _run_with_host_devices(script, n):
    """Run ``script`` in a fresh Python process with ``n`` emulated CPU devices."""
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}",
        "OPENBLAS_NUM_THREADS": "1",
        "JAX_PLATFORMS": "cpu",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_multi_device_matches_single_device(tmp_path, reference):
    _, ref = reference
    script = textwrap.dedent(f"""
        import jax, numpy as np
        from jaxmf.analysis import ensemble
        assert len(jax.local_devices()) == 4, jax.local_devices()
        res = ensemble.sweep({str(tmp_path / "md")!r}, kind="qp", R=[3], W=[20.0, 90.0],
                             n_draws=7, chunk_size=5, progress=False)
        assert res.complete.all()
    """)
    _run_with_host_devices(script, 4)
    multi = ensemble.load(tmp_path / "md")
    # chunk_size 5 is rounded up to 8 (a multiple of the 4 devices)
    assert {p.name for p in (tmp_path / "md" / "chunks").iterdir()} == {
        "R3_W0_0-7.npz",
        "R3_W1_0-7.npz",
    }
    ref3 = ref._replace(**{f: getattr(ref, f)[:, :1] for f in ensemble.FIELDS + ("complete",)})
    _assert_same(multi, ref3)


def test_host_path_runs_on_one_cpu_device(tmp_path, reference):
    # The fast path's pure_callback can deadlock when several emulated CPU devices call
    # back at once (JAX stages callback operands on CPU device 0), so on CPU its chunks
    # are not sharded: chunk_size 5 stays 5 instead of being rounded up to 8.
    _, ref = reference
    script = textwrap.dedent(f"""
        import jax
        from jaxmf.analysis import ensemble
        assert len(jax.local_devices()) == 4, jax.local_devices()
        assert ensemble.chunk_devices("fast", 25) == 1
        assert ensemble.chunk_devices("eigh", 25) == 4
        assert ensemble.chunk_devices("auto", 25) == 4  # N = 25 resolves to eigh
        assert ensemble.chunk_devices("auto", 221) == 1  # ... and N = 221 to fast
        res = ensemble.sweep({str(tmp_path / "fast")!r}, kind="qp", R=[3], W=[20.0, 90.0],
                             n_draws=7, chunk_size=5, method="fast", progress=False)
        assert res.complete.all()
    """)
    _run_with_host_devices(script, 4)
    fast = ensemble.load(tmp_path / "fast")
    assert {p.name for p in (tmp_path / "fast" / "chunks").iterdir()} == {
        "R3_W0_0-5.npz",
        "R3_W0_5-7.npz",
        "R3_W1_0-5.npz",
        "R3_W1_5-7.npz",
    }
    # against the single-device dense-eigh reference: the two spectral routes agree
    # to ~1e-12
    ref3 = ref._replace(**{f: getattr(ref, f)[:, :1] for f in ensemble.FIELDS + ("complete",)})
    _assert_same(fast, ref3)


# --------------------------------------------------------------------------- statistics
def _fake(eta, aval, N=(41,), W=(1.0, 2.0, 3.0)):
    shape = np.shape(eta)
    return ensemble.SweepResult(
        W=np.asarray(W),
        R=np.arange(shape[1]),
        N=np.asarray(N),
        draws=np.arange(shape[2]),
        theta0=None,
        parameters={},
        manifest={},
        eta_tot=np.asarray(eta, float),
        avalanche=np.asarray(aval),
        converged=np.ones(shape, bool),
        iterations=np.ones(shape, int),
        n_thermal=np.zeros(shape),
        stability=np.ones(shape),
        complete=np.ones(shape, bool),
    )


def test_ensemble_average_and_threshold_bracket():
    aval = np.array([[[1, 1, 1, 1]], [[1, 0, 0, 1]], [[0, 0, 0, 0]]], bool)
    eta = np.where(aval, 41 * np.log(2), 3.0)
    res = _fake(eta, aval)
    stats = ensemble.ensemble_average(res)
    assert isinstance(stats, ensemble.EnsembleAverage)
    assert all(np.shape(x) == (3, 1) for x in stats)
    np.testing.assert_allclose(stats.f_aval[:, 0], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(stats.f_aval_err[:, 0], [0.0, 0.25, 0.0])  # sqrt(f(1-f)/n)
    np.testing.assert_allclose(stats.eta_mean[:, 0], eta.mean(-1)[:, 0])
    np.testing.assert_allclose(stats.eta_sem[:, 0], eta.std(-1, ddof=1)[:, 0] / 2)
    np.testing.assert_allclose(stats.eta_ratio[0, 0], 1.0)
    np.testing.assert_array_equal(stats.n, 4)
    np.testing.assert_array_equal(stats.n_unconverged, 0)
    bracket = ensemble.threshold_bracket(res)
    assert isinstance(bracket, ensemble.ThresholdBracket)
    assert bracket.W_last[0] == 2.0 and bracket.W_clear[0] == 3.0
    # unconverged samples are dropped and counted
    res2 = res._replace(converged=res.converged.copy())
    res2.converged[1, 0, 0] = False
    stats2 = ensemble.ensemble_average(res2)
    assert stats2.n[1, 0] == 3 and stats2.n_unconverged[1, 0] == 1
    assert stats2.f_aval[1, 0] == pytest.approx(1 / 3)
    # nothing avalanches: no W_last, W_clear the smallest W; avalanche at the top of the
    # grid: no W_clear; no usable sample: NaN statistics
    none = _fake(eta, np.zeros_like(aval))
    np.testing.assert_array_equal(ensemble.threshold_bracket(none), [[np.nan], [1.0]])
    top = _fake(eta, np.ones_like(aval))
    np.testing.assert_array_equal(ensemble.threshold_bracket(top), [[3.0], [np.nan]])
    empty = res._replace(complete=np.zeros_like(res.complete))
    assert np.all(np.isnan(ensemble.ensemble_average(empty).f_aval))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(kind="qp", R=[-1], W=[1.0], n_draws=2), "R"),
        (dict(kind="qp", R=[2.5], W=[1.0], n_draws=2), "R"),
        (dict(kind="qp", R=[3], W=[-1.0], n_draws=2), "W"),
        (dict(kind="qp", R=[3], W=[np.nan], n_draws=2), "W"),
        (dict(kind="qp", R=[3], W=[1.0]), "theta0"),
        (dict(kind="qp", R=[3], W=[1.0], n_draws=0), "n_draws"),
        (dict(kind="qp", R=[3], W=[1.0], n_draws=2, seed=1), "seed"),
        (dict(kind="random", R=[3], W=[1.0], n_draws=2), "seed"),
        (dict(kind="random", R=[3], W=[1.0], n_draws=2, seed=-3), "seed"),
        (dict(kind="random", R=[3], W=[1.0], seed=1), "n_draws"),
        (dict(kind="random", R=[3], W=[1.0], n_draws=2, seed=1, theta0=[0.1, 0.2]), "theta0"),
        (dict(kind="aubry", R=[3], W=[1.0], n_draws=2), "kind"),
        (dict(kind="qp", R=[3], W=[1.0], n_draws=2, dist="wigner"), "dist"),
        (dict(kind="qp", R=[3], W=[1.0], n_draws=2, method="lanczos"), "method"),
        (dict(kind="qp", R=[3], W=[1.0], n_draws=2, g0=-1.0), "g0"),
        (dict(kind="qp", R=[3, 3], W=[1.0], n_draws=2), "repeated"),
        (dict(kind="qp", R=[3], W=[1.0], n_draws=2, chunk_size=0), "chunk_size"),
    ],
)
def test_bad_input(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        ensemble.sweep(tmp_path / "bad", progress=False, **kw)


def test_load_refuses_other_directories(tmp_path):
    (tmp_path / "manifest.json").write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="is not a"):
        ensemble.load(tmp_path)


def test_default_chunk_size():
    assert ensemble.default_chunk_size(221, 1, "cpu") == 296
    assert ensemble.default_chunk_size(5101, 4, "cpu") == 48
    assert ensemble.default_chunk_size(10**7, 2, "cpu") == 2
    assert ensemble.default_chunk_size(5101, 1, "gpu") >= 1


@pytest.mark.slow
def test_qp_vs_random_contrast(tmp_path):
    # above the QP threshold (~116 for g0 = 1) no phase avalanches, random draws still do
    qp = ensemble.sweep(tmp_path / "qp", kind="qp", R=[10], W=[130.0], n_draws=256, progress=False)
    rnd = ensemble.sweep(
        tmp_path / "rnd", kind="random", R=[10], W=[130.0], n_draws=256, seed=2022, progress=False
    )
    assert ensemble.ensemble_average(qp).f_aval[0, 0] == 0.0
    assert ensemble.ensemble_average(rnd).f_aval[0, 0] > 0.02
    assert qp.converged.all() and rnd.converged.all()
