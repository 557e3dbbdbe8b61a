"""Every code block of docs/*.md runs as written.

Python blocks: every import and every attribute taken from an imported module exists
(fast, all blocks); the blocks themselves run in a fresh folder, the slow ones (their
first line says how long they take: "# about ... minutes/hours") only with the slow
tests. Bash blocks: every `jaxmf ...` command line parses with the command's grammar.
"""

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from jaxmf import cli

ROOT = Path(__file__).parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
SLOW = re.compile(r"^# (about|several|takes|a few) .*(minute|hour)")
ENV = {"JAX_PLATFORMS": "cpu", **os.environ, "OPENBLAS_NUM_THREADS": "1"}


def _blocks(lang):
    found = []
    for path in DOCS:
        for i, m in enumerate(re.finditer(rf"```{lang}\n(.*?)```", path.read_text(), re.S)):
            found.append(pytest.param(m.group(1), id=f"{path.name}:{lang}{i}"))
            for j, doc in enumerate(re.findall(r"<<'EOF'\n(.*?)\nEOF", m.group(1), re.S)):
                if lang == "bash":  # a Python script written by a bash block
                    found.append(pytest.param(doc, id=f"{path.name}:{lang}{i}:heredoc{j}"))
    return found


PYTHON = _blocks("python")
PYTHON += [p for p in _blocks("bash") if "heredoc" in p.id]
BASH = [p for p in _blocks("bash") if "heredoc" not in p.id]


@pytest.mark.parametrize("code", PYTHON)
def test_python_block_names_exist(code):
    """Imports run, and `module.name` exists for every imported module (catches a moved
    or renamed function without running the block)."""
    tree = ast.parse(code)
    namespace = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            exec(compile(ast.Module([node], []), "<doc>", "exec"), namespace)  # noqa: S102
    modules = {k: v for k, v in namespace.items() if type(v).__name__ == "module"}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and modules[node.value.id].__name__.startswith("jaxmf")
        ):
            assert hasattr(modules[node.value.id], node.attr), ast.unparse(node)


def _run(code, cwd, argv=()):
    (cwd / "docs").symlink_to(ROOT / "docs")
    script = cwd / "block.py"
    script.write_text(code)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), *a],
            cwd=cwd,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a in (argv or [()])
    ]
    outs = [p.communicate(timeout=6 * 3600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("code", PYTHON)
def test_python_block_runs(code, tmp_path):
    if "sys.argv[1]" in code:  # one script per process of a two-process run
        _run(code, tmp_path, argv=[("0",), ("1",)])
    else:
        _run(code, tmp_path)


def test_the_slow_blocks_say_so():
    """Blocks that run in the default tests must be quick; the others name their time."""
    fast = [p for p in PYTHON if not SLOW.match(p.values[0])]
    assert all("sweep(" not in p.values[0] and "chain_ed(" not in p.values[0] for p in fast), [
        p.id for p in fast
    ]


@pytest.mark.parametrize("code", [p for p in PYTHON if not SLOW.match(p.values[0])])
def test_quick_python_block_runs(code, tmp_path):
    _run(code, tmp_path)


def _commands(code):
    text = code.replace("\\\n", " ")
    for line in text.splitlines():
        line = re.sub(
            r"\$(\w+)", lambda m: "0" if m.group(1) == "i" else "/tmp/x", line.split("#")[0]
        )
        words = shlex.split(line)
        if "jaxmf" in words:
            yield words[words.index("jaxmf") + 1 :]


@pytest.mark.parametrize("code", BASH)
def test_bash_block_commands_parse(code):
    parser = cli.build_parser()
    for argv in _commands(code):
        argv = [a.rstrip(";&") for a in argv if a not in ("&", ";")]
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"jaxmf {' '.join(argv)} does not parse")
