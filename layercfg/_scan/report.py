"""What ``layercfg scan`` prints: baselines, and the text, JSON and SARIF 2.1.0 reports (docs/scan.md)."""

from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs

from ..exceptions import LayercfgError
from .match import CHECKS, Finding
from .scan import ScanResult, ScanUsageError, resolve_checks, run_scan

JSON_VERSION = 1
BASELINE_VERSION = 1
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
TEXT_WIDTH = 110


@attrs.frozen
class Baseline:
    """The baseline a scan was compared with: where, whether this run wrote it, and how many of its
    findings are still there (``known``) or gone (``absent``)."""

    path: str
    written: bool
    known: int
    absent: int


@attrs.frozen
class Report:
    """A scan's findings with their ``new`` flags set, ready to render."""

    result: ScanResult
    findings: tuple[Finding, ...]
    baseline: Baseline | None

    @property
    def new(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.new)


@attrs.frozen
class CommandOutcome:
    """What the CLI prints (``output`` on stdout, ``messages`` on stderr) and its exit status."""

    output: str
    messages: tuple[str, ...]
    exit_code: int


# -- baseline -----------------------------------------------------------------------------------


def read_baseline(path: str) -> frozenset[str]:
    """The finding ids of a baseline file; :class:`ScanUsageError` when it is not one."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except OSError as exc:
        raise ScanUsageError(f"--baseline {path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ScanUsageError(f"--baseline {path}: not JSON ({exc})") from None
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list) or not all(
        isinstance(f, dict) and isinstance(f.get("id"), str) for f in findings
    ):
        raise ScanUsageError(f"--baseline {path}: not a layercfg scan baseline (no findings list with ids)")
    return frozenset(f["id"] for f in findings)


def write_baseline(path: str, findings: Iterable[Finding]) -> None:
    """Write ``findings`` as a baseline; no line numbers, so moving code does not change the file."""
    rows = [{"id": f.id, "check": f.check, "path": f.path, "text": f.text} for f in findings]
    data = {"version": BASELINE_VERSION, "generated_by": "layercfg scan", "findings": rows}
    try:
        Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ScanUsageError(f"--baseline {path}: cannot write ({exc.strerror or exc})") from None


def apply_baseline(result: ScanResult, path: str | None) -> Report:
    """The report of ``result`` against the baseline at ``path``: written when missing, else read."""
    if path is None:
        return Report(result, result.findings, None)
    if not os.path.exists(path):
        write_baseline(path, result.findings)
        known = tuple(attrs.evolve(f, new=False) for f in result.findings)
        return Report(result, known, Baseline(path, True, len(known), 0))
    ids = read_baseline(path)
    findings = tuple(attrs.evolve(f, new=f.id not in ids) for f in result.findings)
    present = {f.id for f in findings}
    return Report(result, findings, Baseline(path, False, sum(not f.new for f in findings), len(ids - present)))


# -- JSON -----------------------------------------------------------------------------------------


def finding_dict(finding: Finding) -> dict[str, Any]:
    """One finding as the JSON contract has it (docs/scan.md)."""
    return {
        "id": finding.id,
        "check": finding.check,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "text": finding.text,
        "field": finding.field,
        "service": finding.service,
        "profile_values": dict(finding.profile_values),
        "suggestion": finding.suggestion,
        "message": finding.message,
        "new": finding.new,
    }


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items(), key=lambda item: (-item[1], item[0])))


def summary_dict(report: Report) -> dict[str, Any]:
    findings = report.findings
    baseline = report.baseline
    return {
        "files_scanned": report.result.files_scanned,
        "files_with_findings": len({f.path for f in findings}),
        "findings": len(findings),
        "new": len(report.new),
        "by_check": _counts(f.check for f in findings),
        "by_field": _counts(f.field for f in findings),
        "baseline": None if baseline is None else attrs.asdict(baseline),
        "notes": list(report.result.notes),
    }


def to_json(report: Report) -> str:
    data = {
        "version": JSON_VERSION,
        "findings": [finding_dict(f) for f in report.findings],
        "summary": summary_dict(report),
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


# -- text -----------------------------------------------------------------------------------------


def to_text(report: Report) -> str:
    """One block per finding (only new ones when a baseline is used), then a summary line."""
    blocks = []
    for finding in report.new:
        head = f"{finding.path}:{finding.line}:{finding.column}  {finding.check}  {finding.message}"
        blocks.append(
            textwrap.fill(head, TEXT_WIDTH, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)
        )
    blocks.append(summary_line(report))
    return "\n".join(blocks)


def summary_line(report: Report) -> str:
    findings = report.findings
    files = len({f.path for f in findings})
    scanned = report.result.files_scanned
    if not findings:
        return f"summary: no findings in {scanned} file{'s' if scanned != 1 else ''} scanned"
    fields = ", ".join(f"{field} {count}" for field, count in _counts(f.field for f in findings).items())
    total = f"{len(findings)} finding{'s' if len(findings) != 1 else ''} in {files} file{'s' if files != 1 else ''}"
    baseline = report.baseline
    if baseline is None:
        return f"summary: {total}: {fields}"
    new = len(report.new)
    state = f"{new} new, {baseline.known} in baseline {baseline.path}"
    if baseline.absent:
        state += f", {baseline.absent} fixed since it was written"
    return f"summary: {total} ({state}): {fields}"


# -- SARIF 2.1.0 ----------------------------------------------------------------------------------


def _rule_name(check: str) -> str:
    return "".join(part.capitalize() for part in check.replace("-", ".").split("."))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("layercfg")
    except PackageNotFoundError:
        return "0"


def _location(finding: Finding) -> dict[str, Any]:
    if os.path.isabs(finding.path):
        artifact: dict[str, Any] = {"uri": Path(finding.path).as_uri()}
    else:
        artifact = {"uri": quote(finding.path), "uriBaseId": SRCROOT}
    region = {"startLine": finding.line, "startColumn": finding.column, "snippet": {"text": finding.text}}
    return {"physicalLocation": {"artifactLocation": artifact, "region": region}}


def to_sarif(report: Report) -> str:
    """A SARIF 2.1.0 log with one run: every finding (``baselineState`` when a baseline is used)."""
    checks = list(CHECKS)
    rules = [
        {
            "id": check,
            "name": _rule_name(check),
            "shortDescription": {"text": CHECKS[check].split(":")[0].rstrip(".") + "."},
            "fullDescription": {"text": CHECKS[check]},
            "help": {
                "text": "Read the value from layercfg: load_config().FIELD, or the layercfg_config fixture in tests."
            },
            "defaultConfiguration": {"level": "warning"},
        }
        for check in checks
    ]
    results = []
    for finding in report.findings:
        result: dict[str, Any] = {
            "ruleId": finding.check,
            "ruleIndex": checks.index(finding.check),
            "level": "warning",
            "message": {"text": finding.message},
            "locations": [_location(finding)],
            "partialFingerprints": {"layercfgScanId/v1": finding.id},
            "properties": {
                "field": finding.field,
                "service": finding.service,
                "profileValues": dict(finding.profile_values),
                "suggestion": finding.suggestion,
            },
        }
        if report.baseline is not None:
            result["baselineState"] = "new" if finding.new else "unchanged"
        results.append(result)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "layercfg scan", "version": _version(), "rules": rules}},
        "originalUriBaseIds": {SRCROOT: {"uri": Path(report.result.index.project_dir).as_uri() + "/"}},
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {"message": {"text": note}, "level": "note"} for note in report.result.notes
                ],
            }
        ],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2, ensure_ascii=False)


RENDERERS = {"text": to_text, "json": to_json, "sarif": to_sarif}


# -- the command ----------------------------------------------------------------------------------


def scan_command(
    paths: Sequence[str],
    *,
    fmt: str = "text",
    baseline: str | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    accessors: Sequence[str] = (),
    include_docstrings: bool = False,
    jobs: int | None = None,
    project_dir: str | None = None,
) -> CommandOutcome:
    """Everything ``layercfg scan`` does between parsing options and printing.

    Exit status 1 when any finding is new (every finding, without a baseline), 0 when none, and 2
    with one ``Error: ...`` line when the scan cannot run (a missing path, an unknown check, an
    unreadable baseline or project configuration).
    """
    try:
        checks = resolve_checks(select, ignore)
        result = run_scan(
            paths,
            project_dir=project_dir,
            accessors=accessors,
            checks=checks,
            include_docstrings=include_docstrings,
            jobs=jobs,
        )
        report = apply_baseline(result, baseline)
    except LayercfgError as exc:
        return CommandOutcome("", (f"Error: {exc}",), 2)
    messages = [f"note: {note}" for note in result.notes]
    if report.baseline is not None and report.baseline.written:
        count = len(report.findings)
        messages.append(
            f"wrote baseline {baseline} with {count} finding{'s' if count != 1 else ''}; "
            "later scans with --baseline report only findings not in it"
        )
    return CommandOutcome(RENDERERS[fmt](report), tuple(messages), 1 if report.new else 0)
