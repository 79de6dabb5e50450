"""``layercfg scan``: find code that bypasses layercfg (hard-coded endpoints, ad-hoc environment reads).

The flow: :func:`layercfg._scan.index.build_index` learns the project (every profile's values,
compose ports, variable names), :func:`collect_files` walks the paths given, each file goes
through a :class:`layercfg._scan.match.Matcher` (in worker processes when there are many files;
:mod:`layercfg._scan.messages` words the findings), and :func:`run_scan` returns the findings
sorted by place. Rendering and baselines are in :mod:`layercfg._scan.report`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence

import attrs

from ..exceptions import LayercfgError
from .index import ScanIndex, build_index, check_accessor, relative_to_project
from .match import CHECKS, Finding, Matcher

# Directories no test suite keeps its code in, and that can be huge.
SKIP_DIRS = frozenset(
    {"node_modules", "__pycache__", "site-packages", "venv", "build", "dist", "htmlcov", "__pypackages__"}
)
MAX_BYTES = 2 * 1024 * 1024  # past this a "source file" is generated data
PARALLEL_MIN_FILES = 200  # below this, starting worker processes costs more than it saves
_LINE_SUFFIXES = (".ini", ".toml", ".yml", ".yaml")


class ScanUsageError(LayercfgError):
    """The scan cannot run as asked: a path that does not exist, an unknown check, a bad baseline."""


@attrs.frozen
class ScanFile:
    """One file to scan: where it is, how it is shown, and how it is read ("py" or "line")."""

    path: str
    rel: str
    kind: str


@attrs.frozen
class ScanResult:
    """What a scan found, in path/line/column order, and what it could not read."""

    findings: tuple[Finding, ...]
    files_scanned: int
    notes: tuple[str, ...]
    index: ScanIndex


def file_kind(name: str) -> str | None:
    """How a file found while walking a directory is read, or None when it is not scanned."""
    if name.endswith(".py"):
        return "py"
    if name.startswith(".env"):
        return "line"
    lower = name.lower()
    if lower.endswith(_LINE_SUFFIXES):
        return None if "compose" in lower and lower.endswith((".yml", ".yaml")) else "line"
    return None


def resolve_checks(select: Iterable[str], ignore: Iterable[str]) -> frozenset[str]:
    """The checks to report: ``select`` (all when empty) minus ``ignore``; ``env`` means ``env.*``.

    Each item may hold a comma-separated list. Raises :class:`ScanUsageError` for an unknown check.
    """

    def expand(items: Iterable[str], option: str) -> set[str]:
        chosen: set[str] = set()
        for item in items:
            for part in (piece.strip() for piece in item.split(",")):
                if not part:
                    continue
                matched = {check for check in CHECKS if check == part or check.startswith(part + ".")}
                if not matched:
                    from .._model.schema import suggest

                    hint = suggest(part, CHECKS)
                    extra = f"; did you mean {hint}?" if hint else f" (checks: {', '.join(CHECKS)})"
                    raise ScanUsageError(f"{option}: unknown check {part!r}{extra}")
                chosen |= matched
        return chosen

    selected = expand(select, "--select") or set(CHECKS)
    return frozenset(selected - expand(ignore, "--ignore"))


def collect_files(paths: Sequence[str], index: ScanIndex) -> tuple[list[ScanFile], list[str]]:
    """The files under ``paths`` to scan (sorted, each once) and notes about directories not entered.

    A path given explicitly is scanned whatever its name; inside directories only Python files and
    config-like files are, and layercfg's own inputs (profiles, the env files and compose files they
    name) are left out. Raises :class:`ScanUsageError` for a path that does not exist or cannot be read.
    """
    found: dict[str, ScanFile] = {}
    notes: list[str] = []
    for given in paths:
        try:
            status = os.stat(given)
        except FileNotFoundError:
            raise ScanUsageError(f"{given}: no such file or directory") from None
        except OSError as exc:
            raise ScanUsageError(f"{given}: cannot read ({exc.strerror or exc})") from None
        if stat.S_ISDIR(status.st_mode):
            if not os.access(given, os.R_OK | os.X_OK):
                raise ScanUsageError(f"{given}: cannot read directory (permission denied)")
            _walk(given, index, found, notes)
        elif stat.S_ISREG(status.st_mode):
            if not os.access(given, os.R_OK):
                raise ScanUsageError(f"{given}: cannot read file (permission denied)")
            real = os.path.realpath(given)
            kind = "py" if given.endswith(".py") else "line"
            found.setdefault(real, ScanFile(real, relative_to_project(real, index.project_dir), kind))
        else:
            raise ScanUsageError(f"{given}: not a regular file or directory")
    return sorted(found.values(), key=lambda item: item.rel), notes


def _walk(root: str, index: ScanIndex, found: dict[str, ScanFile], notes: list[str]) -> None:
    skip_names = {os.path.basename(path) for path in index.skip}
    stack = [os.path.realpath(root)]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            notes.append(f"{relative_to_project(directory, index.project_dir)}: not scanned ({exc.strerror})")
            continue
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not name.startswith(".") and name not in SKIP_DIRS and not name.endswith(".egg-info"):
                        stack.append(entry.path)
                    continue
                if not entry.is_file():
                    continue
            except OSError:
                continue
            kind = file_kind(name)
            if kind is None:
                continue
            # realpath costs syscalls per file: only for names that may be one of layercfg's own inputs
            key = os.path.realpath(entry.path) if name in skip_names else os.path.abspath(entry.path)
            if key in index.skip or key in found:
                continue
            found[key] = ScanFile(entry.path, relative_to_project(entry.path, index.project_dir), kind)


def _scan_one(matcher: Matcher, item: ScanFile) -> tuple[list[Finding], list[str]]:
    try:
        with open(item.path, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        return [], [f"{item.rel}: cannot read ({exc.strerror or exc})"]
    if len(data) > MAX_BYTES:
        return [], [f"{item.rel}: larger than {MAX_BYTES // (1024 * 1024)} MiB; skipped"]
    if b"\x00" in data:
        return [], []  # binary
    return matcher.scan(data, item.path, item.rel, item.kind)


_WORKER: Matcher | None = None


def _init_worker(index: ScanIndex, include_docstrings: bool) -> None:
    global _WORKER
    _WORKER = Matcher(index, include_docstrings)


def _scan_chunk(chunk: Sequence[ScanFile]) -> tuple[list[Finding], list[str]]:
    assert _WORKER is not None  # set by _init_worker in every worker process
    findings: list[Finding] = []
    notes: list[str] = []
    for item in chunk:
        found, said = _scan_one(_WORKER, item)
        findings += found
        notes += said
    return findings, notes


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def scan_files(
    files: Sequence[ScanFile], index: ScanIndex, *, include_docstrings: bool = False, jobs: int | None = None
) -> tuple[list[Finding], list[str]]:
    """Scan ``files``: in this process for a few, over ``jobs`` processes (default: the usable CPUs) for many."""
    jobs = default_jobs() if jobs is None else jobs
    if jobs <= 1 or len(files) < PARALLEL_MIN_FILES:
        _init_worker(index, include_docstrings)
        return _scan_chunk(files)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Chunks a few times the worker count even out files of uneven cost; "fork" where there is one
    # (a scan is single-threaded) skips re-importing layercfg and unpickling the index per worker.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    size = max(16, len(files) // (jobs * 4) + 1)
    chunks = [files[start : start + size] for start in range(0, len(files), size)]
    findings: list[Finding] = []
    notes: list[str] = []
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init_worker, initargs=(index, include_docstrings)
    ) as pool:
        for found, said in pool.map(_scan_chunk, chunks):
            findings += found
            notes += said
    return findings, notes


def run_scan(
    paths: Sequence[str] = (),
    *,
    project_dir: str | os.PathLike[str] | None = None,
    accessors: Sequence[str] = (),
    checks: Iterable[str] | None = None,
    include_docstrings: bool = False,
    jobs: int | None = None,
) -> ScanResult:
    """Scan ``paths`` (default: the project directory) and return what bypasses layercfg.

    ``checks`` limits the report to those check ids (default: all). Raises
    :class:`ScanUsageError` for bad arguments and :class:`LayercfgError` when the project's own
    configuration (pyproject.toml, schema) cannot be read.
    """
    for pattern in accessors:
        problem = check_accessor(pattern)
        if problem is not None:
            raise ScanUsageError(problem)
    index = build_index(project_dir, accessors)
    for pattern in index.accessors:
        problem = check_accessor(pattern)
        if problem is not None:
            raise ScanUsageError(f"[tool.layercfg] scan_accessors: {problem}")
    files, notes = collect_files(list(paths) or [index.project_dir], index)
    findings, said = scan_files(files, index, include_docstrings=include_docstrings, jobs=jobs)
    wanted = frozenset(CHECKS) if checks is None else frozenset(checks)
    kept = sorted((f for f in findings if f.check in wanted), key=lambda f: (f.path, f.line, f.column, f.check))
    return ScanResult(tuple(kept), len(files), (*index.notes, *notes, *said), index)
