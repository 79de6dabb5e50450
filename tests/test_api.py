"""The public surface: curated exports, and an import with no side effects."""

from __future__ import annotations

import json
import subprocess
import sys

import layercfg


def test_all_is_sorted_and_complete():
    """__all__ is sorted and every name in it resolves."""
    assert layercfg.__all__ == sorted(layercfg.__all__)
    for name in layercfg.__all__:
        assert getattr(layercfg, name) is not None


def test_no_public_name_missing_from_all():
    """Every public attribute the package offers is listed in __all__."""
    import types

    public = {
        name
        for name in dir(layercfg)
        if not name.startswith("_") and not isinstance(getattr(layercfg, name), types.ModuleType)
    }
    public -= {"annotations", "TYPE_CHECKING", "Any"}
    assert public == set(layercfg.__all__)


PROBE = r"""
import builtins, io, json, os, sys
opened, read_env = [], []
real_open = builtins.open
def spy_open(file, *a, **k):
    opened.append(str(file)); return real_open(file, *a, **k)
builtins.open = spy_open
io.open = spy_open
class SpyEnv(type(os.environ)):
    pass
real_getitem = type(os.environ).__getitem__
def spy_getitem(self, key):
    read_env.append(key); return real_getitem(self, key)
type(os.environ).__getitem__ = spy_getitem
import layercfg
heavy = sorted(m for m in ("dynaconf", "docker", "click", "dotenv", "yaml", "requests") if m in sys.modules)
print(json.dumps({"opened": opened, "env": read_env, "heavy": heavy}))
"""


def test_import_reads_nothing_and_imports_nothing_heavy():
    """`import layercfg` opens no file, reads no variable, imports no dynaconf, docker or click."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == {"opened": [], "env": [], "heavy": []}
