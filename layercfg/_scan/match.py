"""The matchers of ``layercfg scan``: one file's text in, its findings out.

Python is parsed with :mod:`ast` (exact lines and columns; strings inside f-strings,
concatenations and default arguments; docstrings skipped unless asked for; comments never reach
the tree). Config-like files (``.env*``, ``*.ini``, ``*.toml``, ``*.yml``) are matched line by line.
Each finding names its field, that field's value under every profile and what to use instead.
"""

from __future__ import annotations

import ast
import bisect
import fnmatch
import hashlib
import io
import os
import re
import tokenize
from collections.abc import Iterator, Sequence

import attrs

from .._model.secrets import mask_url_passwords
from .._model.services import default_port
from .index import LOOPBACK_HOSTS, ScanIndex
from .messages import hint, internal_detail, loopback_detail, values_clause

ENDPOINT = "endpoint.hardcoded"
ENV_ADHOC = "env.adhoc"
ENV_UNKNOWN = "env.unknown"
CHECKS = {
    ENDPOINT: "A loopback URL or host:port of a service of the stack (or a service's container-internal "
    "host name) written into the code instead of read from layercfg.",
    ENV_ADHOC: "An environment variable layercfg resolves (canonical or legacy name) read by hand, "
    "bypassing profiles, env files, discovery and the receipt.",
    ENV_UNKNOWN: "An environment variable layercfg does not know, read by hand under a name close to one it knows.",
}
# Reads of the process environment every Python programmer writes; a project adds its own accessors.
ENV_CALLS = frozenset({"os.environ.get", "os.getenv", "environ.get", "getenv"})
ENV_MAPPINGS = frozenset({"os.environ", "environ"})
PLACEHOLDER = "\ufffc"  # stands for a part of an f-string the scan cannot know
_IGNORE = re.compile(r"[#;]\s*layercfg:\s*ignore(?:\[([^\]]*)\])?")
_TRAILING = ".,;:!?)]}>`"
_COLON_DIGIT = re.compile(rb":\s*\d")
_COLON_DIGIT_TEXT = re.compile(r":\s*\d")
_NEWLINE = re.compile("\n")
_TEST_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+test", re.MULTILINE)


@attrs.frozen
class Finding:
    """One place where code bypasses layercfg (the JSON contract in docs/scan.md)."""

    id: str
    check: str
    path: str  # relative to the project, POSIX separators
    line: int
    column: int  # 1-based, in characters
    text: str  # the endpoint as written, or the source of the read
    field: str
    service: str | None
    profile_values: tuple[tuple[str, object], ...]
    suggestion: str
    message: str
    new: bool = True


@attrs.frozen
class _Raw:
    check: str
    line: int
    column: int
    text: str
    field: str
    detail: str  # the message, without what to use instead


class Matcher:
    """Finds endpoints in text and environment reads in code, for one scan's index."""

    def __init__(self, index: ScanIndex, include_docstrings: bool = False) -> None:
        self.index = index
        self.include_docstrings = include_docstrings
        hosts = sorted({re.escape(host) for host in (*LOOPBACK_HOSTS, *index.internal) if host != "::1"}, key=len)
        host_alternatives = "|".join(reversed(hosts))
        self.endpoints = re.compile(
            r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*)://(?:[^\s/@'\"]*@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/?#'\"@\\]+)"
            r"(?::(?P<port>\d+|[^\s/?#'\"\\]*))?(?P<rest>[^\s'\"<>\\]*)"
            rf"|(?<![\w.@/:-])(?P<bare>(?i:{host_alternatives})):(?P<bare_port>\d{{1,5}})(?![\w.])"
        )
        # Cheap tests first: most test files mention no endpoint and read no variable, and are never parsed.
        words = ["localhost", "127.0.0.1", "0.0.0.0", "::1", "environ", "getenv", "://"]
        for pattern in index.accessors:
            idents = re.findall(r"[A-Za-z_]\w*", pattern)
            if idents:
                words.append(max(idents, key=len))
        self.words = tuple(dict.fromkeys(words))
        self.byte_words = tuple(word.encode() for word in self.words)
        names = "|".join(re.escape(host) for host in sorted(index.internal, key=len, reverse=True))
        self.named_port = re.compile(rf"(?i:{names})\s*:\s*\d" if names else r"(?!)")
        self.byte_named_port = re.compile(self.named_port.pattern.encode())
        self.longest_name = max((len(host) for host in index.internal), default=0) + 4
        self.exact_accessors = frozenset(p for p in index.accessors if "*" not in p) | ENV_CALLS
        self.wild_accessors = tuple(p for p in index.accessors if "*" in p)

    # -- one file ---------------------------------------------------------------------------

    def scan(self, data: bytes, path: str, rel: str, kind: str) -> tuple[list[Finding], list[str]]:
        """The findings of one file (``kind`` "py" or "line") and notes about what could not be read."""
        if not self.include_docstrings and not self._worth_reading(data):
            return [], []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if kind != "py":
                return [], [f"{rel}: not UTF-8 text; skipped"]
            try:
                encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
                text = data.decode(encoding)
            except (SyntaxError, UnicodeDecodeError, LookupError):
                return [], [f"{rel}: not decodable text; skipped"]
        text = text.removeprefix("\ufeff")
        notes: list[str] = []
        lines = text.split("\n")
        is_test = False
        if kind == "py":
            try:
                raws, is_test = self._python(text, lines, os.path.basename(path))
                if self.include_docstrings:
                    raws += self._comment_raws(text)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                reason = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
                where = f"{rel}:{exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else rel
                notes.append(f"{where}: cannot parse ({reason}); matched line by line")
                raws = self._lines(lines)
            ignored = self._python_ignores(text) if "layercfg: ignore" in text else {}
            hint_kind = "test" if is_test else "code"
        else:
            raws = self._lines(lines)
            ignored = self._line_ignores(lines) if "layercfg: ignore" in text else {}
            hint_kind = "config"
        return self._findings(raws, rel, ignored, hint_kind), notes

    def _findings(
        self, raws: list[_Raw], rel: str, ignored: dict[int, frozenset[str] | None], hint_kind: str
    ) -> list[Finding]:
        raws.sort(key=lambda raw: (raw.line, raw.column))
        seen: dict[tuple[str, str], int] = {}
        findings = []
        for raw in raws:
            normalized = _normalize(raw.text)
            occurrence = seen.get((raw.check, normalized), 0)
            seen[(raw.check, normalized)] = occurrence + 1
            suppressed = ignored.get(raw.line, frozenset())
            if suppressed is None or raw.check in suppressed:
                continue
            facts = self.index.fields[raw.field]
            use = hint(facts, hint_kind)
            message = f"{raw.detail} (use {use})"
            digest = hashlib.sha256(f"{raw.check}\0{rel}\0{normalized}\0{occurrence}".encode()).hexdigest()[:20]
            findings.append(
                Finding(
                    id=digest,
                    check=raw.check,
                    path=rel,
                    line=raw.line,
                    column=raw.column,
                    text=raw.text,
                    field=raw.field,
                    service=facts.service,
                    profile_values=facts.values,
                    suggestion=use,
                    message=message,
                )
            )
        return findings

    # -- endpoints ----------------------------------------------------------------------------

    def endpoints_in(self, value: str) -> Iterator[tuple[int, str, str, str]]:
        """(offset, text, field, detail) for each endpoint of the stack inside ``value``."""
        for match in self.endpoints.finditer(value):
            if match.group("bare"):
                host, port, scheme = match.group("bare").lower(), int(match.group("bare_port")), None
                text = match.group(0)
            else:
                scheme = match.group("scheme").lower()
                host = match.group("host").lower()
                port_text = match.group("port")
                if port_text is None or port_text == "":
                    found = default_port(scheme)
                    if found is None or port_text == "":
                        continue
                    port = found
                elif port_text.isdigit():
                    port = int(port_text)
                else:  # a placeholder or a format field: the port is not in the text
                    continue
                text = match.group(0).rstrip(_TRAILING)
                if PLACEHOLDER in text:
                    text = text[: text.index(PLACEHOLDER)].rstrip(_TRAILING)
            described = self._describe(host, port, scheme, mask_url_passwords(text))
            if described is not None:
                yield match.start(), mask_url_passwords(text), described[0], described[1]

    def _describe(self, host: str, port: int, scheme: str | None, text: str) -> tuple[str, str] | None:
        index = self.index
        if host in LOOPBACK_HOSTS:
            use = index.field_for_port(port, scheme)
            return None if use is None else (use.field, loopback_detail(text, port, use, index.fields[use.field]))
        items = index.internal.get(host)
        if not items:
            return None
        matching = [item for item in items if item.container_port == port]
        if scheme:
            matching.sort(key=lambda item: scheme not in index.fields[item.field].schemes)
        if not matching:
            return None
        return matching[0].field, internal_detail(text, host, matching[0], index.fields[matching[0].field])

    # -- Python ---------------------------------------------------------------------------------

    def _worth_reading(self, data: bytes) -> bool:
        if any(word in data for word in self.byte_words):
            return True
        return any(
            self.byte_named_port.search(data, max(0, m.start() - self.longest_name), m.end())
            for m in _COLON_DIGIT.finditer(data)
        )

    def _candidate_lines(self, text: str) -> list[int] | None:
        """The lines where a finding can be (an AST node touching none of them is skipped); None: all."""
        if self.include_docstrings:
            return None
        offsets = []
        for word in self.words:
            found = text.find(word)
            while found >= 0:
                offsets.append(found)
                found = text.find(word, found + 1)
        for match in _COLON_DIGIT_TEXT.finditer(text):
            if self.named_port.search(text, max(0, match.start() - self.longest_name), match.end()):
                offsets.append(match.start())
        starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
        return sorted({bisect.bisect_right(starts, offset) for offset in offsets})

    def _python(self, text: str, lines: list[str], name: str) -> tuple[list[_Raw], bool]:
        tree = ast.parse(text)
        skip: set[int] = set()
        raws: list[_Raw] = []
        is_test = name == "conftest.py" or bool(_TEST_DEF.search(text))
        for node in _nodes(tree, self._candidate_lines(text)):
            if isinstance(node, ast.Constant):
                if isinstance(node.value, str) and ":" in node.value and id(node) not in skip:
                    self._endpoint_raws(node.value, node, lines, raws)
            elif isinstance(node, ast.Call):
                self._call(node, lines, raws, skip)
            elif isinstance(node, ast.Expr):
                inner = node.value
                if not self.include_docstrings and isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    skip.add(id(inner))
            elif isinstance(node, ast.JoinedStr) or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)):
                folded = None if id(node) in skip else self._fold(node)
                if folded is not None:
                    _mark(node, skip)
                    if ":" in folded:
                        self._endpoint_raws(folded, node, lines, raws)
            elif isinstance(node, ast.Subscript):
                key = node.slice
                if (
                    isinstance(node.ctx, ast.Load)
                    and isinstance(key, ast.Constant)
                    and isinstance(key.value, str)
                    and _dotted(node.value) in ENV_MAPPINGS
                ):
                    self._read(key.value, None, node, lines, raws, skip)
            elif isinstance(node, ast.Compare):
                left = node.left
                if (
                    isinstance(left, ast.Constant)
                    and isinstance(left.value, str)
                    and len(node.ops) == 1
                    and isinstance(node.ops[0], (ast.In, ast.NotIn))
                    and _dotted(node.comparators[0]) in ENV_MAPPINGS
                ):
                    self._read(left.value, None, node, lines, raws, skip)
        return raws, is_test

    def _endpoint_raws(self, value: str, node: ast.AST, lines: list[str], raws: list[_Raw]) -> None:
        for _offset, text, field, detail in self.endpoints_in(value):
            line, column = _position(node, text, lines)
            raws.append(_Raw(ENDPOINT, line, column, text, field, detail))

    def _fold(self, node: ast.AST) -> str | None:
        """The text a string expression builds, when its parts are literals (or env reads with defaults)."""
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    parts.append(part.value)
                elif isinstance(part, ast.FormattedValue):
                    inner = part.value
                    default = self._default_of(inner) if isinstance(inner, ast.Call) else None
                    if isinstance(inner, ast.Constant) and isinstance(inner.value, (str, int)):
                        parts.append(str(inner.value))
                    elif default is not None:
                        parts.append(default)
                    else:
                        parts.append(PLACEHOLDER)
            return "".join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._fold(node.left), self._fold(node.right)
            return None if left is None or right is None else left + right
        return None

    def _accessor(self, call: ast.Call) -> bool:
        name = _dotted(call.func)
        if name is None:
            return False
        return name in self.exact_accessors or any(fnmatch.fnmatchcase(name, p) for p in self.wild_accessors)

    def _default_of(self, call: ast.Call) -> str | None:
        """The literal default of an environment read (``os.getenv("PORT", "8000")`` -> ``"8000"``)."""
        if not self._accessor(call):
            return None
        default = (
            call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "default"), None)
        )
        if isinstance(default, ast.Constant) and isinstance(default.value, (str, int)):
            return str(default.value)
        return None

    def _call(self, call: ast.Call, lines: list[str], raws: list[_Raw], skip: set[int]) -> None:
        if not call.args and not call.keywords:
            return
        if not self._accessor(call):
            return
        key = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "key"), None)
        if not isinstance(key, ast.Constant) or not isinstance(key.value, str):
            return
        default = (
            call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "default"), None)
        )
        self._read(key.value, default, call, lines, raws, skip)

    def _read(
        self, name: str, default: ast.expr | None, node: ast.AST, lines: list[str], raws: list[_Raw], skip: set[int]
    ) -> None:
        index = self.index
        if name in index.ignored_names:
            return
        text = _segment(node, lines)
        line, column = node.lineno, _column(lines, node.lineno, node.col_offset)  # type: ignore[attr-defined]
        known = index.env_names.get(name)
        if known is not None:
            if known.kind == "canonical":
                detail = f"{text} reads the canonical name of {known.field} by hand, skipping profiles and discovery"
            else:
                what = {"port variable": "a legacy port variable", "switch": "a legacy switch"}.get(known.kind)
                detail = f"{text} reads {what or 'a legacy name'} of {known.field}"
            if default is not None:
                detail += " and hard-codes its default"
                skip.update(id(n) for n in ast.walk(default))
            raws.append(
                _Raw(ENV_ADHOC, line, column, text, known.field, detail + values_clause(index.fields[known.field]))
            )
            return
        meant = index.suggest_name(name)
        if meant is None:
            return
        field = index.env_names[meant].field
        if default is not None:
            skip.update(id(n) for n in ast.walk(default))
        detail = f"{text} is not a name layercfg knows; did you mean {meant} ({field})?"
        raws.append(_Raw(ENV_UNKNOWN, line, column, text, field, detail + values_clause(index.fields[field], " ")))

    # -- other files and inline ignores --------------------------------------------------------

    def _lines(self, lines: Sequence[str]) -> list[_Raw]:
        raws = []
        for number, line in enumerate(lines, 1):
            stripped = line.lstrip()
            if not stripped or ":" not in stripped:
                continue
            if stripped[0] in "#;":
                if not self.include_docstrings:
                    continue
            elif not self.include_docstrings:
                cut = re.search(r"\s[#;]", line)
                line = line[: cut.start()] if cut else line
            for offset, text, field, detail in self.endpoints_in(line):
                raws.append(_Raw(ENDPOINT, number, offset + 1, text, field, detail))
        return raws

    def _comment_raws(self, text: str) -> list[_Raw]:
        """Endpoints inside Python comments (only with ``include_docstrings``: comments are not code)."""
        raws = []
        try:
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                if token.type == tokenize.COMMENT:
                    for offset, found, field, detail in self.endpoints_in(token.string):
                        line, column = token.start
                        raws.append(_Raw(ENDPOINT, line, column + offset + 1, found, field, detail))
        except (tokenize.TokenError, SyntaxError):
            pass
        return raws

    @staticmethod
    def _python_ignores(text: str) -> dict[int, frozenset[str] | None]:
        found: dict[int, frozenset[str] | None] = {}
        try:
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                if token.type == tokenize.COMMENT:
                    _add_ignore(found, token.start[0], token.string)
        except (tokenize.TokenError, SyntaxError):
            pass
        return found

    @staticmethod
    def _line_ignores(lines: Sequence[str]) -> dict[int, frozenset[str] | None]:
        found: dict[int, frozenset[str] | None] = {}
        for number, line in enumerate(lines, 1):
            _add_ignore(found, number, line)
        return found


def _add_ignore(found: dict[int, frozenset[str] | None], line: int, comment: str) -> None:
    match = _IGNORE.search(comment)
    if match is None:
        return
    if match.group(1) is None:
        found[line] = None  # every check
        return
    checks = frozenset(part.strip() for part in match.group(1).split(",") if part.strip())
    previous = found.get(line, frozenset())
    found[line] = None if previous is None else previous | checks


def _nodes(tree: ast.AST, wanted: list[int] | None) -> Iterator[ast.AST]:
    """The nodes of ``tree``, parents before children, leaving out every node whose lines hold no
    ``wanted`` line (``ast.walk`` would visit them all: most of a test file is neither)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        start = getattr(node, "lineno", None)
        if start is not None and wanted is not None:
            end = getattr(node, "end_lineno", None) or start
            decorators = getattr(node, "decorator_list", None)
            if decorators:  # a def's line is after its decorators (parametrize lists live there)
                start = min(start, decorators[0].lineno)
            at = bisect.bisect_left(wanted, start)
            if at == len(wanted) or wanted[at] > end:
                continue
        yield node
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                stack.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append(value)


def _dotted(node: ast.AST) -> str | None:
    """``os.environ.get`` / ``get_env().get`` for the expression a call is made on, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    if isinstance(node, ast.Call):
        base = _dotted(node.func)
        return None if base is None else base + "()"
    return None


def _mark(node: ast.AST, skip: set[int]) -> None:
    """Skip the literal parts of a folded string expression (it was matched whole)."""
    skip.add(id(node))
    if isinstance(node, ast.BinOp):
        _mark(node.left, skip)
        _mark(node.right, skip)
    elif isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.Constant):
                skip.add(id(part))


def _column(lines: Sequence[str], line: int, byte_offset: int) -> int:
    """The 1-based character column of a UTF-8 byte offset (what ``ast`` gives) on ``line``."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    if text.isascii():
        return byte_offset + 1
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "replace")) + 1


def _position(node: ast.AST, text: str, lines: Sequence[str]) -> tuple[int, int]:
    """Where ``text`` is written inside the literal ``node``: its own line and column when found."""
    start = node.lineno  # type: ignore[attr-defined]
    end = node.end_lineno or start  # type: ignore[attr-defined]
    first = _column(lines, start, node.col_offset)  # type: ignore[attr-defined]
    for number in range(start, min(end, len(lines)) + 1):
        found = lines[number - 1].find(text, first - 1 if number == start else 0)
        if found >= 0:
            return number, found + 1
    return start, first


def _segment(node: ast.AST, lines: Sequence[str]) -> str:
    """The source of ``node``, on one line (whitespace between lines collapsed)."""
    start, end = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
    chunk = [line.encode("utf-8") for line in lines[start - 1 : end]]
    if not chunk:
        return ""
    end_offset = node.end_col_offset if node.end_col_offset is not None else len(chunk[-1])  # type: ignore[attr-defined]
    chunk[-1] = chunk[-1][:end_offset]
    chunk[0] = chunk[0][node.col_offset :]  # type: ignore[attr-defined]
    text = b"\n".join(chunk).decode("utf-8", "replace")
    return re.sub(r"\s*\n\s*", " ", text).replace("( ", "(").replace(" )", ")")


def _normalize(text: str) -> str:
    """What a finding's id depends on: the text without whitespace, one quote style."""
    return re.sub(r"\s+", "", text).replace("'", '"')
