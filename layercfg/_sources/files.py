"""Reading the files a load names (profiles, env files, compose files, pyproject.toml), safely.

Every such file is read the same bounded way: only a regular file (a FIFO would block forever,
``/dev/zero`` would never end), at most :data:`MAX_BYTES`, as UTF-8 text; every failure (missing,
a directory, permission, a symlink loop, a name too long) becomes a :class:`SourceError` naming
the file, never an exception from the operating system.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import NamedTuple

from ..exceptions import MalformedFileError, UnreadableFileError

MAX_BYTES = 4 * 1024 * 1024  # configuration files are small; past this, something is wrong


def read_text(path: Path, display: str, what: str, *, missing: str | None = None) -> str:
    """The text of the regular file at ``path``; ``display`` names it in errors, ``what`` says what it is."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise UnreadableFileError(missing or f"{what} not found", location=display) from None
    except RuntimeError:  # pathlib's symlink loop
        raise UnreadableFileError(f"{what} path is a symlink loop", location=display) from None
    except OSError as exc:
        raise UnreadableFileError(f"cannot read {what}: {_reason(exc)}", location=display) from None
    if stat.S_ISDIR(status.st_mode):
        raise UnreadableFileError(f"cannot read {what}: Is a directory", location=display)
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableFileError(f"{what} is not a regular file (a FIFO, socket or device)", location=display)
    if status.st_size > MAX_BYTES:
        raise MalformedFileError(f"{what} is {status.st_size} bytes, more than {MAX_BYTES}", location=display)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read {what}: {_reason(exc)}", location=display) from None
    if len(data) > MAX_BYTES:
        raise MalformedFileError(f"{what} grew past {MAX_BYTES} bytes while being read", location=display)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedFileError(f"{what} is not UTF-8 text ({exc.reason})", location=display) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise MalformedFileError(f"{what} contains a NUL byte", location=f"{display}:{line}")
    return text.removeprefix("\ufeff")


def is_file(path: Path) -> bool:
    """``path.is_file()`` that answers False instead of raising (symlink loops, names too long)."""
    try:
        return path.is_file()
    except (OSError, RuntimeError):
        return False


def exists(path: Path) -> bool:
    """``path.exists()`` that answers True when it cannot tell (a directory it may not enter): the
    caller then reports why the file could not be read rather than skipping it as absent."""
    try:
        os.lstat(path)  # a symlink loop or a dangling link is there too, and its reason is worth saying
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True
    return True


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, RuntimeError):
        return False


def resolved(path: Path) -> Path:
    """``path.resolve()`` that never raises: a symlink loop or a name too long stays as written."""
    return Path(os.path.realpath(path))


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    return exc.strerror or str(exc)


def join_path(base: Path, text: str) -> Path:
    """*text* relative to *base* (absolute text stays as it is), absolute and normalized.

    Normalized lexically, not with ``resolve()``: ``..`` must mean what compose means by it,
    and symlinks must not change the paths shown to the user.
    """
    return Path(os.path.abspath(os.path.join(base, text)))


class FoundComposeFile(NamedTuple):
    """Where a compose file a profile asked for actually is (``path`` None when nowhere).

    Here rather than in the compose reader: a load looks for compose files every time, and
    imports the reader only when one exists.
    """

    requested: str
    path: Path | None
    moved: bool
    searched: tuple[Path, ...]


def find_compose_file(
    requested: str, project_dir: Path, search_dirs: Sequence[str] = (".", "docker")
) -> FoundComposeFile:
    """Find *requested* relative to *project_dir*, else its file name in each of *search_dirs*.

    ``moved`` is True when the file was found somewhere other than where it was requested;
    ``searched`` lists the places looked at, in order, up to the one that had it.
    """
    wanted = join_path(project_dir, requested)
    name = PurePath(requested).name
    candidates = [wanted, *(join_path(project_dir, os.path.join(directory, name)) for directory in search_dirs)]
    searched: list[Path] = []
    for candidate in candidates:
        if candidate in searched:
            continue
        searched.append(candidate)
        if candidate.is_file():
            return FoundComposeFile(requested, candidate, candidate != wanted, tuple(searched))
        if candidate == wanted and exists(candidate):
            # There, but no regular file (a directory, a symlink loop): reading it says why.
            return FoundComposeFile(requested, candidate, False, tuple(searched))
    return FoundComposeFile(requested, None, False, tuple(searched))
