"""The docs say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"
README = Path(__file__).parent.parent / "README.md"


def test_precedence_doc_matches_code():
    """docs/precedence.md's tables list the sources and steps in the precedence table's order."""
    from layercfg._precedence import SOURCES, STEPS

    text = (DOCS / "precedence.md").read_text()
    rows = re.findall(r"^\| (\d) \| `([a-z-]+)` \| (.+?) \|$", text, re.MULTILINE)
    assert rows == [(str(rank), source.label, source.summary) for rank, source in enumerate(SOURCES, 1)]
    steps = re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", text, re.MULTILINE)
    assert steps == [(step.label, step.summary) for step in STEPS]


def test_readme_opens_with_two_commands():
    """The README's first code block holds exactly the two set-up commands, and .ci/run runs the second."""
    block = re.search(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    assert block is not None
    commands = block.group(1).strip().splitlines()
    assert len(commands) == 2
    assert commands[0].endswith("layercfg explain backend_url")
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_migration_alias_table_matches_schema():
    """Every row of the migration guide's alias table matches the schema's names."""
    from layercfg import TestEnvConfig
    from layercfg._model.fieldtable import schema_info

    fields = schema_info(TestEnvConfig, "NETRA_").fields
    rows = re.findall(
        r"^\| `(\w+)`(?: \(secret\))? \| `(\w+)` \| (.+) \|$", (DOCS / "migration.md").read_text(), re.MULTILINE
    )
    assert rows
    for name, canonical, aliases in rows:
        assert fields[name].env == canonical
        assert tuple(re.findall(r"`(\w+)`", aliases)) == fields[name].aliases


PRELUDE = "import os\nimport pytest\nfrom layercfg import load_config\ncfg = load_config()\n"


def python_blocks() -> list[tuple[str, int, str]]:
    """Every ```python block of README.md and docs/*.md, with its file and line."""
    blocks = []
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        text = path.read_text()
        for match in re.finditer(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((path.name, line, match.group(1)))
    return blocks


@pytest.mark.parametrize(
    ("name", "line", "code"), python_blocks(), ids=lambda v: v if isinstance(v, str) and v.endswith(".md") else None
)
def test_python_examples_run(name: str, line: int, code: str, tmp_path):
    """Each Python example of the docs runs in a fresh process against a live backend on 127.0.0.1."""
    import subprocess
    import sys

    from conftest import NO_DOCKER, clean_environ
    from servers import LocalService

    with LocalService() as backend:
        environ = clean_environ({**NO_DOCKER, "NETRA_BACKEND_URL": backend.base_url})
        result = subprocess.run(
            [sys.executable, "-c", PRELUDE + code],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, f"{name}:{line}\n{result.stderr}"
