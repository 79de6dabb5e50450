"""The docs say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs"
README = Path(__file__).parent.parent / "README.md"


def test_precedence_doc_matches_code():
    """docs/precedence.md's tables list the sources and steps in the precedence table's order."""
    from layercfg._stack import SOURCES, STEPS

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
    from layercfg._schema import schema_info

    fields = schema_info(TestEnvConfig, "NETRA_").fields
    rows = re.findall(
        r"^\| `(\w+)`(?: \(secret\))? \| `(\w+)` \| (.+) \|$", (DOCS / "migration.md").read_text(), re.MULTILINE
    )
    assert rows
    for name, canonical, aliases in rows:
        assert fields[name].env == canonical
        assert tuple(re.findall(r"`(\w+)`", aliases)) == fields[name].aliases
