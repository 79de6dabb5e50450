"""What the plugin knows in one session, kept in ``config.stash``, and the names it shares.

Imported with the ``pytest11`` entry point in every pytest run of every environment layercfg is
installed in: the standard library and pytest only, nothing else of layercfg but ``_words``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .._model.words import TRUE_WORDS, split_assignments

if TYPE_CHECKING:
    from .._load import Loaded
    from .._resolve.probe import ProbeResult

WORKERINPUT_KEY = "layercfg_loaded"
WORKERINPUT_ERROR_KEY = "layercfg_error"
GATE = "_layercfg_requires_service"
LEDGER_KEY = "layercfg.service"
STACK_KEY = "layercfg.stack"
WHY_SECTION = "layercfg: why this connection failed"
OVERRIDE_SOURCE = "--layercfg-set"


class Failure:
    """A resolution that raised: the message is all a test needs."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class State:
    """Everything the plugin knows in one session (kept in ``config.stash``).

    A plain class rather than a dataclass: this module is imported by every pytest run, and
    building a dataclass costs more than everything else it does at import.
    """

    def __init__(self, rootpath: Path, profile: str | None, overrides: dict[str, str], strict: bool, explicit: bool):
        self.rootpath = rootpath
        self.profile = profile
        self.overrides = overrides
        self.strict = strict
        self.explicit = explicit  # a layercfg option or ini key was given
        self._active: bool | None = None
        self.process: Loaded[Any] | Failure | None = None  # resolved against os.environ
        self.custom: tuple[Mapping[str, str], Loaded[Any] | Failure] | None = None  # against another mapping
        self.shipped: str | None = None  # the controller's resolution, as a worker received it
        self.shipped_error: str | None = None
        self.payload: dict[str, str] | None = None  # what the controller sends every worker
        self.probes: dict[str, ProbeResult] = {}
        self.ledger: dict[str, dict[str, Any]] = {}  # service -> what it resolved to, probe, tests ran/skipped
        self.counted: set[tuple[str, str, str]] = set()  # (nodeid, service, phase) already in the ledger
        self.timeout_plugin = False  # pytest-timeout is active: wait_for_service compares its limit
        self.terminal: Any = None  # where the stack's receipt is written as it comes up (not on workers)
        self.stack_done = False  # the lifecycle step ran (or had nothing to do) in this process
        self.stack_unsent: dict[str, Any] | None = None  # this process's stack record, for the next report
        self.stacks: dict[str, dict[str, Any]] = {}  # state file -> what this session's up did there
        self.stack_stopped: list[str] = []  # receipts of the stop at the session's end

    @property
    def active(self) -> bool:
        if self._active is None:
            self._active = self.explicit or self.has_project_table
        return self._active

    @property
    def resolved_active(self) -> bool:
        """Whether the plugin was found active (without deciding it now)."""
        return bool(self._active)

    @property
    def has_project_table(self) -> bool:
        pyproject = self.rootpath / "pyproject.toml"
        try:
            data = pyproject.read_bytes()
        except OSError:
            return False
        if b"[tool.layercfg" not in data:  # cheap test first: most projects never mention it
            return False
        import tomllib

        try:
            document = tomllib.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):  # TOMLDecodeError, UnicodeDecodeError, a 4300-digit integer
            return True  # let the load report the malformed file
        tool = document.get("tool")
        return isinstance(tool, dict) and "layercfg" in tool

    @property
    def project_dir(self) -> Path | None:
        # The rootdir is the project when its pyproject.toml says so; otherwise layercfg's own
        # lookup (nearest [tool.layercfg] above the cwd, else the cwd) decides, as load() does.
        return self.rootpath if self.has_project_table else None


STATE = pytest.StashKey[State]()


def assignments(lines: list[str], where: str) -> dict[str, str]:
    """``FIELD=VALUE`` lines as a dict; a malformed one is a usage error naming ``where``."""
    try:
        return split_assignments(lines)
    except ValueError as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None


def is_ci(environ: Mapping[str, str]) -> bool:
    return environ.get("CI", "").strip().lower() in TRUE_WORDS


def time_limit(item: pytest.Item) -> float | None:
    """The limit pytest-timeout puts on ``item`` (marker, option, ini, PYTEST_TIMEOUT), for ``wait_for_service``.

    Here, with the standard library and pytest only: it is read before every test of every run that
    has pytest-timeout, whether the project uses layercfg or not.
    """
    config = item.config
    marker = item.get_closest_marker("timeout")
    value: object = None
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    else:
        value = config.getoption("timeout", None)
        if value is None:
            try:
                value = config.getini("timeout") or None
            except ValueError:
                value = None
        if value is None:
            value = os.environ.get("PYTEST_TIMEOUT")
    try:
        limit = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return limit if limit > 0 else None
