"""The run layer (jaxmf._runs): run ids, and stored runs that cannot be mixed or misread.

The cases a user meets: the manifest deleted and the folder rerun with another seed; a
truncated, empty or garbage chunk or replica file; a truncated manifest. References: a
SHA-256 of hand-written canonical JSON, and the same sweep or rare-event run computed
in an untouched folder.
"""

import hashlib
import json
import shutil

import jax
import numpy as np
import pytest

from jaxmf import _runs
from jaxmf.analysis import ensemble, rare

# R = 1 (N = 5): 2 chunks of 2 random draws each, seconds to compute
SWEEP = dict(kind="random", R=[1], W=[20.0], n_draws=4, seed=5, chunk_size=2)
CHUNK = "R1_W0_2-4.npz"
RARE = dict(model=1, Ws=[20.0], g0=(0.2,), n=20, replicas=2, thin=1, max_levels=4)


def _sweep(path, on_chunk=None, **kw):
    return ensemble.sweep(path, **{**SWEEP, **kw}, progress=False, on_chunk=on_chunk)


def _never(**kw):
    pytest.fail(f"recomputed a stored chunk: {kw}")


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "sweep"
    return path, _sweep(path)


def _copy(stored, tmp_path):
    src, res = stored
    return shutil.copytree(src, tmp_path / "sweep"), res


def _same(a, b):
    for f in ensemble.FIELDS + ("complete",):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


# --------------------------------------------------------------------------- run ids
def test_run_id_is_the_hash_of_canonical_json():
    # sorted keys, no spaces, tuples and NumPy values as plain JSON
    text = '{"a":1,"b":[1.5,"x"],"model":{"name":"chain","q":[0.5]}}'
    expected = hashlib.sha256(text.encode()).hexdigest()[:16]
    spec = {"model": {"q": (0.5,), "name": "chain"}, "b": (np.float64(1.5), "x"), "a": np.int64(1)}
    assert _runs.run_id(spec) == expected
    assert _runs.run_id({**spec, "a": 2}) != expected
    assert _runs.run_id({**spec, "model": {"q": [0.5000000000000001], "name": "chain"}}) != (
        expected
    )
    with pytest.raises(ValueError, match="JSON"):
        _runs.run_id({"W": float("nan")})
    with pytest.raises(ValueError, match="dict"):
        _runs.run_id([1, 2])


def test_every_chunk_records_the_run_id(stored):
    path, _ = stored
    manifest = json.loads((path / "manifest.json").read_text())
    spec = {k: v for k, v in manifest["parameters"].items() if k != "method"}
    assert manifest["run_id"] == _runs.run_id(spec)
    for p in (path / "chunks").glob("*.npz"):
        with np.load(p) as z:
            assert str(z["run_id"]) == manifest["run_id"]


# --------------------------------------------------------------------------- another run
def test_deleted_manifest_then_another_seed_is_refused(stored, tmp_path):
    path, ref = _copy(stored, tmp_path)
    names = sorted(p.name for p in (path / "chunks").iterdir())
    (path / "manifest.json").unlink()
    with pytest.raises(
        ValueError,
        match=r"2 result file\(s\) made by another run, "
        r"e\.g\. chunks/R1_W0_",
    ):
        _sweep(path, seed=6, on_chunk=_never)
    # nothing mixed, nothing moved, no manifest of the refused run left behind
    assert sorted(p.name for p in (path / "chunks").iterdir()) == names
    assert not (path / "manifest.json").exists()
    # the sweep that made the chunks takes them back without computing anything
    _same(_sweep(path, on_chunk=_never), ref)


def test_other_parameters_are_named(stored):
    path, _ = stored
    with pytest.raises(ValueError, match=r"other parameters.*'seed': \(5, 6\)"):
        _sweep(path, seed=6, on_chunk=_never)


# --------------------------------------------------------------------------- damage
def _damage(p, how):
    data = p.read_bytes()
    if how == "truncated":
        p.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        p.write_bytes(b"")
    elif how == "garbage":
        p.write_bytes(b"\x00 not a chunk \xff" * 40)
    else:  # a readable .npz of this run without the fields
        with np.load(p) as z:
            run = z["run_id"]
        np.savez(p, run_id=run, eta_tot=np.zeros(2))
    return p.read_bytes()


@pytest.mark.parametrize(
    "how, reason",
    [
        ("truncated", "cannot be read: BadZipFile"),
        ("empty", "an empty file"),
        ("garbage", "not an .npz file"),
        ("fields missing", "lacks the field"),
    ],
)
def test_damaged_chunk_is_named_set_aside_and_recomputed(stored, tmp_path, how, reason):
    path, ref = _copy(stored, tmp_path)
    bad = _damage(path / "chunks" / CHUNK, how)
    # loading names the file and leaves its draws out
    with pytest.warns(RuntimeWarning, match=rf"{CHUNK} is damaged \({reason}"):
        part = ensemble.load(path)
    np.testing.assert_array_equal(part.complete[0, 0], [True, True, False, False])
    # resuming names it, keeps it as NAME.damaged and computes those draws again
    redone = []
    with pytest.warns(RuntimeWarning, match=f"{CHUNK} is damaged.*set aside as {CHUNK}.damaged"):
        res = _sweep(path, on_chunk=lambda **kw: redone.append((kw["start"], kw["stop"])))
    assert redone == [(2, 4)]
    assert (path / "chunks" / f"{CHUNK}.damaged").read_bytes() == bad
    _same(res, ref)


def test_damaged_manifest_is_named_with_what_to_do(stored, tmp_path):
    path, ref = _copy(stored, tmp_path)
    manifest = path / "manifest.json"
    manifest.write_text(manifest.read_text()[:100])
    for call in (lambda: _sweep(path, on_chunk=_never), lambda: ensemble.load(path)):
        with pytest.raises(
            ValueError,
            match=f"{manifest} is damaged.*delete manifest.json and rerun the same command",
        ):
            call()
    manifest.unlink()  # doing what the message says keeps every chunk
    _same(_sweep(path, on_chunk=_never), ref)


def test_folder_of_the_previous_layout_still_resumes(stored, tmp_path):
    # manifest and chunks without run ids (format version 1): the manifest vouches for
    # its chunks; without it they cannot be checked and are refused
    path, ref = _copy(stored, tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["run_id"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    for p in (path / "chunks").glob("*.npz"):
        with np.load(p) as z:
            arrays = {k: z[k] for k in z.files if k != "run_id"}
        np.savez(p, **arrays)
    _same(ensemble.load(path), ref)
    _same(_sweep(path, on_chunk=_never), ref)
    (path / "manifest.json").unlink()
    with pytest.raises(ValueError, match="without a run id"):
        _sweep(path, on_chunk=_never)


# --------------------------------------------------------------------------- rare events
def test_rare_run_refuses_another_key_and_redoes_a_damaged_replica(tmp_path):
    folder = tmp_path / "rare"
    rows = rare.f_aval_tail(**RARE, key=jax.random.key(3), folder=folder)
    part = folder / "W20.0_r1.npz"
    bad = _damage(part, "truncated")
    with pytest.warns(RuntimeWarning, match="W20.0_r1.npz is damaged"):
        again = rare.f_aval_tail(**RARE, key=jax.random.key(3), folder=folder)
    assert (folder / "W20.0_r1.npz.damaged").read_bytes() == bad
    for a, b in zip(rows, again):
        np.testing.assert_equal(a._replace(seconds=0)._asdict(), b._replace(seconds=0)._asdict())
    (folder / "manifest.json").unlink()
    with pytest.raises(ValueError, match="made by another run"):
        rare.f_aval_tail(**RARE, key=jax.random.key(4), folder=folder)


def test_a_process_started_with_other_arguments_stops(monkeypatch):
    # the plan comes with process 0's run id; here process 0 is made to run another spec
    other = _runs.run_id({"seed": 6})
    monkeypatch.setattr(
        _runs, "broadcast", lambda compute, name: {"run_id": other, "plan": compute()}
    )
    work = []
    with pytest.raises(ValueError, match="other parameters than process 0"):
        _runs.run_shared(
            "test", _runs.run_id({"seed": 5}), lambda: [1, 2], lambda plan, where: work.append(plan)
        )
    assert work == []


def test_the_command_line_says_it_in_one_line(tmp_path, capsys):
    # as a user meets it: `jaxmf sweep` rerun on a damaged chunk, then after deleting
    # the manifest with another --seed
    from jaxmf import cli

    folder = tmp_path / "sweep"
    argv = [
        "sweep",
        "--out",
        str(folder),
        "--kind",
        "random",
        "--R",
        "1",
        "--W",
        "20",
        "--samples",
        "4",
        "--quiet",
    ]
    assert cli.main(argv + ["--seed", "5"]) == 0
    chunk = folder / "chunks" / "R1_W0_0-4.npz"
    chunk.write_bytes(b"")
    capsys.readouterr()
    assert cli.main(argv + ["--seed", "5"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"jaxmf sweep: warning: {chunk} is damaged (an empty file): set aside "
        f"as R1_W0_0-4.npz.damaged, it is computed again"
    ]
    (folder / "manifest.json").unlink()
    assert cli.main(argv + ["--seed", "6"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "made by another run" in err[0] and str(folder) in err[0]
