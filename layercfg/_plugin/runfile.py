"""What a run says at its end: the service ledger and the skip budget, the terminal summary, and the
run receipt (``.layercfg/run.json``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .._model.secrets import display, mask_text
from .._views.render import secret_values
from .stack import collect_stack, session_outcome
from .state import Failure, State, is_ci


def count_report(state: State, report: pytest.TestReport, entries: list[dict[str, Any]], stacks: list[Any]) -> None:
    """Add one test report's ledger entries (a service it required) and stack records to the session's."""
    for record in stacks:
        collect_stack(state, record)
    for entry in entries:
        service = entry["service"]
        ledger = state.ledger.setdefault(service, {**entry, "ran": 0, "skipped": 0, "errors": 0})
        key = (report.nodeid, service, report.when)
        if key in state.counted:
            continue
        state.counted.add(key)
        if report.when == "setup" and report.skipped:
            ledger["skipped"] += 1
        elif report.when == "setup" and report.failed and not entry["ok"]:
            ledger["errors"] += 1
        elif report.when == "call":
            ledger["ran"] += 1


def _skip_budget(config: pytest.Config) -> int | None:
    option = config.getoption("layercfg_skip_budget")
    if option is not None:
        return int(option)
    text = str(config.getini("layercfg_skip_budget")).strip()
    if text:
        try:
            return int(text)
        except ValueError:
            raise pytest.UsageError(f"layercfg_skip_budget: expected a number of tests, got {text!r}") from None
    return 0 if is_ci(os.environ) else None


def over_budget(config: pytest.Config, state: State) -> tuple[int, int] | None:
    """(skipped, budget) when more tests were skipped by ``requires_service`` than the budget allows."""
    budget = _skip_budget(config)
    skipped = sum(entry["skipped"] for entry in state.ledger.values())
    return (skipped, budget) if budget is not None and skipped > budget else None


def write_summary(terminalreporter: Any, config: pytest.Config, state: State) -> None:
    """The stack's receipts, then one line per required service: where it was, whether it answered."""
    if state.stacks:
        terminalreporter.write_sep("=", "layercfg: stack")
        for record in state.stacks.values():
            for line in record["lines"]:
                terminalreporter.write_line(line)
        for line in state.stack_stopped:
            terminalreporter.write_line(line)
    if not state.ledger:
        return
    terminalreporter.write_sep("=", "layercfg: service summary")
    width = max(len(name) for name in state.ledger)
    for name, entry in state.ledger.items():
        status = "up" if entry["ok"] else "down"
        counts = [f"{entry['ran']} tests"]
        if entry["skipped"]:
            counts.append(f"{entry['skipped']} skipped")
        if entry["errors"]:
            counts.append(f"{entry['errors']} errors")
        terminalreporter.write_line(
            f"{name:<{width}}  {entry['url'] or '(unset)'} ({entry['origin']})  {status}  {', '.join(counts)}"
        )
        if not entry["ok"]:
            terminalreporter.write_line(f"{'':<{width}}  probe: {entry['probe']}")
    over = over_budget(config, state)
    if over is not None:
        skipped, budget = over
        why = "CI=true: " if is_ci(os.environ) and config.getoption("layercfg_skip_budget") is None else ""
        terminalreporter.write_line(
            f"{why}{skipped} requires_service skips exceed layercfg_skip_budget = {budget}: the run fails"
        )
    path = receipt_path(config)
    if path is not None and path.exists():
        terminalreporter.write_line(f"receipt written to {path}")


def receipt_path(config: pytest.Config) -> Path | None:
    value = config.getoption("layercfg_receipt") or str(config.getini("layercfg_receipt")).strip()
    if value == "off":
        return None
    path = Path(value or ".layercfg/run.json")
    return path if path.is_absolute() else config.rootpath / path


def write_receipt(config: pytest.Config, state: State) -> None:
    """The run receipt: what the session resolved and what its services answered, secrets masked."""
    path = receipt_path(config)
    if path is None:
        return
    outcome = session_outcome(state, os.environ) if state.process is not None or state.ledger else state.process
    if outcome is None:
        return
    receipt: dict[str, Any] = {"version": 1}
    if isinstance(outcome, Failure):
        receipt["error"] = outcome.message
    else:
        trace = outcome.trace
        secrets = secret_values(trace)
        receipt["profiles"] = list(trace.profiles)
        receipt["fields"] = {
            name: {
                "value": display(field.value, secret=field.secret),
                "layer": field.winner.origin.layer.label,
                "source": mask_text(field.winner.origin.source, secrets),
                "location": field.winner.origin.location,
                "variable": field.winner.origin.variable,
            }
            for name, field in trace.fields.items()
        }
        receipt["warnings"] = [mask_text(warning, secrets) for warning in trace.warnings]
        receipt["fallback"] = trace.fallback.reason if trace.fallback is not None else None
        docker = trace.discovery.docker if trace.discovery is not None else None
        receipt["docker"] = (
            {"engine": docker.engine, "problem": docker.problem.message if docker.problem else None}
            if docker is not None
            else None
        )
    receipt["services"] = state.ledger
    if state.stacks:
        receipt["stack"] = {"runs": list(state.stacks.values()), "stopped": state.stack_stopped}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(receipt, indent=1, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        config.issue_config_time_warning(
            pytest.PytestWarning(f"layercfg: cannot write the run receipt {path}: {exc}"), 2
        )
