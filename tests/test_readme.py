"""The README's "API at a glance" runs as written."""

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_api_at_a_glance_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the snippet writes a sweep folder
    text = README.read_text()
    section = text[text.index("## API at a glance") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    # the snippet's results are physical: a failed DRH avalanche below alpha_c, a
    # negative slope of eta_tot in W, a converged threshold search
    res = namespace["res"]
    assert bool(res.converged) and not bool(namespace["jaxmf"].avalanches(res))
    assert float(namespace["dH_dW"]) < 0
    assert int(namespace["th"].status) == 0
