"""Result files: atomic writes with the mode a plain open() would give (umask respected)."""

import json
import os
import stat

import numpy as np
import pytest

from jaxmf._io import atomic_write, write_json


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_mode_follows_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_json(tmp_path / "r.json", {"x": np.arange(3)})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == mode
    assert json.loads((tmp_path / "r.json").read_text()) == {"x": [0, 1, 2]}


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    def broken(f):
        f.write(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "r.bin", broken)
    assert list(tmp_path.iterdir()) == []
