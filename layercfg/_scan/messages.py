"""What a finding of ``layercfg scan`` says: the field, its value under every profile, what to use instead."""

from __future__ import annotations

from collections.abc import Sequence

from .index import LOOPBACK_HOSTS, FieldFacts, InternalHost, PortUse, port_of


def hint(facts: FieldFacts, kind: str) -> str:
    if kind == "config":
        return f"{facts.name} in a profile, or {facts.env}"
    if not facts.attribute:
        return f"layercfg explain {facts.name}"
    return f"layercfg_config.{facts.name}" if kind == "test" else f"load_config().{facts.name}"


def _grouped(values: Sequence[tuple[str, object]]) -> list[tuple[object, list[str]]]:
    groups: list[tuple[object, list[str]]] = []
    for profile, value in values:
        for seen, names in groups:
            if seen == value:
                names.append(profile)
                break
        else:
            groups.append((value, [profile]))
    return groups


def _names(profiles: Sequence[str]) -> str:
    return profiles[0] if len(profiles) == 1 else ", ".join(profiles[:-1]) + " and " + profiles[-1]


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return "unset" if value is None else str(value)


def values_text(facts: FieldFacts) -> str:
    """``http://localhost:8000 under local; http://localhost:8002 under alpine-test and docker``."""
    groups = _grouped(facts.values)
    if len(groups) == 1 and len(facts.values) > 1:
        return f"{_shown(groups[0][0])} under every profile"
    return "; ".join(f"{_shown(value)} under {_names(names)}" for value, names in groups)


def values_clause(facts: FieldFacts, separator: str = "; ") -> str:
    values = values_text(facts)
    return f"{separator}{facts.name} is {values}" if values else ""


def loopback_detail(text: str, port: int, use: PortUse, facts: FieldFacts) -> str:
    same = [p for p, v in facts.values if isinstance(v, str) and _same(v, text)]
    on = [] if same else [p for p, v in facts.values if isinstance(v, str) and _on_port(v, port)]
    if same:
        head = f'"{text}" is {facts.name} of {_profiles(same)}'
    elif on:
        value = dict(facts.values)[on[0]]
        head = f'"{text}" is on {facts.name} of {_profiles(on)} ({_shown(value)})'
    else:
        return f'"{text}" uses port {port}, {_reason(use, facts)}{values_clause(facts)}'
    others = [(value, names) for value, names in _grouped(facts.values) if not set(names) & {*same, *on}]
    tail = "; ".join(f"under {_names(names)} it is {_shown(value)}" for value, names in others)
    return f"{head}; {tail}" if tail else f"{head}, the same under every profile"


def _profiles(names: Sequence[str]) -> str:
    return f"profile{'s' if len(names) > 1 else ''} {_names(names)}"


def _on_port(value: str, port: int) -> bool:
    host, value_port = port_of(value)
    return host is not None and host.lower() in LOOPBACK_HOSTS and value_port == port


def _reason(use: PortUse, facts: FieldFacts) -> str:
    if use.reason.startswith("profile "):
        return f"the port of {facts.name} under {use.reason.removeprefix('profile ')}"
    return use.reason


def internal_detail(text: str, host: str, item: InternalHost, facts: FieldFacts) -> str:
    return (
        f'"{text}" names {host}, a container-internal host of service {item.service} that tests on this '
        f"machine cannot reach{values_clause(facts)}"
    )


def _same(value: str, text: str) -> bool:
    from .._model.urls import same_endpoint

    if "://" not in text:  # host:port: the same port on this machine
        host, _, port = text.rpartition(":")
        return same_endpoint(value, f"{value.split('://', 1)[0]}://{host}:{port}") if "://" in value else False
    return same_endpoint(value, text)
