"""``layercfg``: a thin click shell over the public API.

A :class:`LayercfgError` becomes ``Error: ...`` on stderr and exit status 1, never a
traceback; usage errors exit 2 (click's convention). Every command that prints
data takes ``--json`` (shapes in docs/cli.md). The common options (``--profile``,
``--project-dir``, ``--set``, ``--show-secrets``) go before or after the command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
import click

from ._load import Loaded, load
from ._model.secrets import mask_text
from ._model.words import split_assignments
from ._views import render
from .exceptions import LayercfgError

F = TypeVar("F", bound=Callable[..., Any])


@attrs.define
class CommonOptions:
    profile: str | None = None
    project_dir: str | None = None
    assignments: tuple[str, ...] = ()
    show_secrets: bool = False
    no_fallback: bool = False

    def merged(self, other: CommonOptions) -> CommonOptions:
        """Options given after the command win over (or add to) those given before it."""
        return CommonOptions(
            profile=other.profile or self.profile,
            project_dir=other.project_dir or self.project_dir,
            assignments=self.assignments + other.assignments,
            show_secrets=self.show_secrets or other.show_secrets,
            no_fallback=self.no_fallback or other.no_fallback,
        )


def common_options(func: F) -> F:
    options = [
        click.option(
            "--profile",
            metavar="NAME[,NAME...]",
            help="Profiles to use, stacked left to right (beats the profile variable, e.g. NETRA_PROFILE).",
        ),
        click.option(
            "--project-dir",
            type=click.Path(file_okay=False),
            help="Project directory (default: nearest [tool.layercfg] pyproject.toml above the cwd, else the cwd).",
        ),
        click.option(
            "--set",
            "assignments",
            multiple=True,
            metavar="FIELD=VALUE",
            help="Override one field (the override layer); repeatable.",
        ),
        click.option("--show-secrets", is_flag=True, help="Print secret values instead of <secret>."),
        click.option("--no-fallback", is_flag=True, help="Never switch to staging endpoints in this run."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/cli.md).")


def _options(ctx: click.Context, **given: Any) -> CommonOptions:
    before: CommonOptions = ctx.find_object(CommonOptions) or CommonOptions()
    after = CommonOptions(
        profile=given.get("profile"),
        project_dir=given.get("project_dir"),
        assignments=tuple(given.get("assignments") or ()),
        show_secrets=bool(given.get("show_secrets")),
        no_fallback=bool(given.get("no_fallback")),
    )
    return before.merged(after)


def _split_assignments(assignments: Sequence[str]) -> dict[str, str]:
    try:
        return split_assignments(assignments)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--set'") from None


def _load(options: CommonOptions, profile: str | None = None) -> Loaded[Any]:
    overrides = _split_assignments(options.assignments)
    return load(
        profile=profile or options.profile,
        project_dir=options.project_dir,
        overrides=overrides,
        override_source="--set",
        fallback="off" if options.no_fallback else None,
    )


class _Group(click.Group):
    """Turns LayercfgError into ``Error: ...`` and exit status 1 (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LayercfgError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="layercfg")
@click.pass_context
def main(ctx: click.Context, /, **given: Any) -> None:
    """Where is the backend? Layered, typed test configuration with a receipt for every value."""
    ctx.obj = _options(ctx, **given)


@main.command()
@click.argument("field")
@common_options
@json_option
@click.pass_context
def explain(ctx: click.Context, /, field: str, as_json: bool, **given: Any) -> None:
    """Say what FIELD is, which layer and place set it, and what it shadowed."""
    options = _options(ctx, **given)
    loaded = _load(options)
    from ._load import explain as explain_field

    trace = explain_field(loaded.config, field)
    secrets = [] if options.show_secrets else render.secret_values(loaded.trace)
    notes = [mask_text(warning, secrets) for warning in loaded.trace.warnings]
    if as_json:
        # Everything the text shows: the field's receipt, and the load-wide notes under "notes".
        data = render.explain_dict(trace, loaded.trace, show_secrets=options.show_secrets)
        click.echo(render.dumps({**data, "notes": notes}))
        return
    click.echo(render.explain_text(trace, loaded.trace, show_secrets=options.show_secrets))
    for note in notes:
        click.echo(f"  {'note':<9} {note}")


@main.command()
@common_options
@json_option
@click.pass_context
def show(ctx: click.Context, /, as_json: bool, **given: Any) -> None:
    """Print every field with its value and where it was set."""
    options = _options(ctx, **given)
    loaded = _load(options)
    if as_json:
        click.echo(render.dumps(render.show_dict(loaded.trace, show_secrets=options.show_secrets)))
    else:
        click.echo(render.show_text(loaded.trace, show_secrets=options.show_secrets))


@main.command()
@common_options
@json_option
@click.pass_context
def profiles(ctx: click.Context, /, as_json: bool, **given: Any) -> None:
    """List the available profiles, where each is defined, and what it extends."""
    options = _options(ctx, **given)
    from ._load import builtin_profiles_apply
    from ._model.fieldtable import schema_info
    from ._sources.profiles import ProfileReader
    from ._sources.project import find_project

    settings = find_project(options.project_dir)
    schema = settings.load_schema()
    reader = ProfileReader(settings, schema_info(schema, settings.env_prefix), builtin_profiles_apply(settings, schema))
    rows = []
    for name in sorted(reader.available):
        profile = reader.read(name)
        rows.append(
            {
                "name": name,
                "description": profile.description if profile else "",
                "extends": list(profile.extends) if profile else [],
                "env_files": [ref.path for ref in profile.env_files] if profile else [],
                "file": profile.display if profile else settings.relative(reader.available[name]),
            }
        )
    why_none = reader.why_none()
    if as_json:
        click.echo(render.dumps({"profiles": rows, "errors": [str(e) for e in reader.errors], "why_none": why_none}))
        return
    if why_none:
        click.echo(f"no profiles: {why_none}", err=True)
    width = max((len(row["name"]) for row in rows), default=0)
    for row in rows:
        extends = f" (extends {', '.join(row['extends'])})" if row["extends"] else ""
        click.echo(f"{row['name']:<{width}}  {row['file']}{extends}")
        if row["description"]:
            click.echo(f"{'':<{width}}  {row['description']}")
    for error in reader.errors:
        click.echo(f"error: {error}", err=True)
    if reader.errors:
        sys.exit(1)


@main.command()
@json_option
def precedence(as_json: bool) -> None:
    """Print the sources in precedence order, lowest first, then the resolution steps."""
    from ._precedence import SOURCES, STEPS

    rows = [
        {"rank": rank, "layer": source.label, "description": source.summary} for rank, source in enumerate(SOURCES, 1)
    ]
    steps = [{"step": step.label, "description": step.summary} for step in STEPS]
    if as_json:
        click.echo(render.dumps({"layers": rows, "steps": steps}))
        return
    for row in rows:
        click.echo(f"{row['rank']}  {row['layer']:<12} {row['description']}")
    click.echo("then, after the merge:")
    for step in steps:
        click.echo(f"   {step['step']:<12} {step['description']}")


@main.command()
@click.argument("first")
@click.argument("second")
@common_options
@json_option
@click.option("--receipt", "receipts", is_flag=True, help="FIRST and SECOND are run receipts (.layercfg/run.json).")
@click.pass_context
def diff(ctx: click.Context, /, first: str, second: str, as_json: bool, receipts: bool, **given: Any) -> None:
    """Show the fields whose values differ between profile FIRST and profile SECOND (or two run receipts)."""
    options = _options(ctx, **given)
    if receipts:
        from ._views.runfile import diff_receipts, read_receipt, receipts_diff_text

        changes = diff_receipts(read_receipt(first), read_receipt(second))
        if as_json:
            click.echo(render.dumps({"receipts": [first, second], "differences": changes}))
            return
        for line in receipts_diff_text(changes, first, second):
            click.echo(line)
        return
    left = _load(options, profile=first)
    right = _load(options, profile=second)
    rows = render.diff_rows(left.trace, right.trace, first, second, show_secrets=options.show_secrets)
    if as_json:
        click.echo(render.dumps({"profiles": [first, second], "differences": rows}))
        return
    for line in render.diff_text(rows, first, second):
        click.echo(line)


@main.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Accepted like on every command: the schema is JSON either way.")
@click.pass_context
def schema(ctx: click.Context, /, as_json: bool, **given: Any) -> None:
    """Print the JSON Schema of profile files for this project's schema."""
    options = _options(ctx, **given)
    from ._model.fieldtable import schema_info
    from ._sources.project import find_project
    from ._views.jsonschema import profile_json_schema

    settings = find_project(options.project_dir)
    info = schema_info(settings.load_schema(), settings.env_prefix)
    click.echo(render.dumps(profile_json_schema(info)))


@main.command()
@common_options
@click.option("--format", "fmt", type=click.Choice(["dotenv", "shell", "json"]), default="dotenv", show_default=True)
@click.option("--legacy", is_flag=True, help="Also print every legacy alias name with the same value.")
@json_option
@click.pass_context
def env(ctx: click.Context, /, fmt: str, legacy: bool, as_json: bool, **given: Any) -> None:
    """Print the resolved config as variables (canonical names; --legacy adds the aliases)."""
    from ._views.export import env_assignments, export_lines

    options = _options(ctx, **given)
    loaded = _load(options)
    info = loaded.trace.info
    assert info is not None  # every resolution records its field table
    names = {name: ((*spec.aliases, spec.env) if legacy else (spec.env,)) for name, spec in info.fields.items()}
    ports = {name: spec.port_aliases for name, spec in info.fields.items() if legacy and spec.port_aliases}
    pairs = env_assignments(loaded.trace, names, ports, show_secrets=options.show_secrets)
    if as_json or fmt == "json":
        click.echo(render.dumps(dict(pairs)))
        return
    for line in export_lines(pairs, fmt):
        click.echo(line)


@main.command()
@common_options
@json_option
@click.option(
    "--compose-file",
    "compose_files",
    multiple=True,
    metavar="PATH",
    help="Check this compose file instead of the profile's compose_files; repeatable.",
)
@click.option(
    "--project-directory",
    metavar="DIR",
    help="Compose project directory, like compose's own option (default: the first compose file's directory).",
)
@click.option("--no-probe", is_flag=True, help="Skip the endpoint reachability probes.")
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="CHECK[,CHECK...]",
    help="Accept these checks' findings (listed apart, never failing); adds to doctor_ignore; repeatable.",
)
@click.pass_context
def doctor(
    ctx: click.Context,
    /,
    as_json: bool,
    compose_files: tuple[str, ...],
    project_directory: str | None,
    no_probe: bool,
    ignore: tuple[str, ...],
    **given: Any,
) -> None:
    """Check what breaks test environments: profiles, compose files, builds, ports, legacy names, Docker, endpoints.

    Exit status 1 when any finding is an error (checks accepted with --ignore or doctor_ignore do not count).
    """
    options = _options(ctx, **given)
    from ._doctor import findings_text, run_doctor, split_ignored
    from ._sources.project import find_project

    findings = run_doctor(
        profile=options.profile,
        project_dir=options.project_dir,
        overrides=_split_assignments(options.assignments),
        compose_files=compose_files,
        project_directory=project_directory,
        probe=not no_probe,
    )
    accepted = [check for item in ignore for check in item.split(",") if check.strip()]
    import contextlib

    with contextlib.suppress(LayercfgError):  # run_doctor has already reported the project's problem
        accepted += find_project(options.project_dir).doctor_ignore
    findings, ignored = split_ignored(findings, [check.strip() for check in accepted])
    ok = not any(f.severity == "error" for f in findings)
    if as_json:
        click.echo(
            render.dumps(
                {"ok": ok, "findings": [f.as_dict() for f in findings], "ignored": [f.as_dict() for f in ignored]}
            )
        )
    else:
        for line in findings_text(findings, ignored):
            click.echo(line)
    if not ok:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option(
    "--baseline",
    metavar="FILE",
    help="Write FILE when it does not exist; otherwise report (and fail on) only findings not in it.",
)
@click.option("--select", multiple=True, metavar="CHECK[,CHECK...]", help="Only these checks; repeatable.")
@click.option("--ignore", multiple=True, metavar="CHECK[,CHECK...]", help="Not these checks; repeatable.")
@click.option(
    "--accessor",
    "accessors",
    multiple=True,
    metavar="PATTERN",
    help="Another call that reads the environment, e.g. 'get_env().get' (adds to scan_accessors); repeatable.",
)
@click.option("--include-docstrings", is_flag=True, help="Also match docstrings and comments.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: the usable CPUs).")
@click.option("--project-dir", type=click.Path(file_okay=False), help="The project whose profiles define the stack.")
@click.pass_context
def scan(
    ctx: click.Context,
    /,
    paths: tuple[str, ...],
    fmt: str,
    baseline: str | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    accessors: tuple[str, ...],
    include_docstrings: bool,
    jobs: int | None,
    project_dir: str | None,
) -> None:
    """Find code that bypasses layercfg: hard-coded endpoints and ad-hoc environment reads (docs/scan.md).

    PATHS default to the project directory. Exit status 1 on new findings, 0 when there are none,
    2 when the scan cannot run.
    """
    from ._scan.report import scan_command

    common = ctx.find_object(CommonOptions)
    outcome = scan_command(
        paths,
        fmt=fmt,
        baseline=baseline,
        select=select,
        ignore=ignore,
        accessors=accessors,
        include_docstrings=include_docstrings,
        jobs=jobs,
        project_dir=project_dir or (common.project_dir if common else None),
    )
    for message in outcome.messages:
        click.echo(message, err=True)
    if outcome.output:
        click.echo(outcome.output)
    ctx.exit(outcome.exit_code)


@main.command()
@common_options
@json_option
@click.option(
    "--project-name", metavar="NAME", help="Compose project to use (beats compose_project); isolates parallel runs."
)
@click.option(
    "--service",
    "services",
    multiple=True,
    metavar="SERVICE",
    help="A service to bring up (logical or compose name; beats lifecycle_services); repeatable.",
)
@click.pass_context
def up(ctx: click.Context, /, as_json: bool, project_name: str | None, services: tuple[str, ...], **given: Any) -> None:
    """Start what is missing of the stack with docker compose (up -d --wait) and print a receipt per service.

    Follows the lifecycle setting (reuse starts nothing; off behaves as start here); what it starts is
    recorded in .layercfg/lifecycle/PROJECT.json for `layercfg down` (docs/lifecycle.md).
    """
    import json

    from ._lifecycle import up as start_stack

    options = _options(ctx, **given)
    report = start_stack(
        None,
        services=services or None,
        project_name=project_name,
        profile=options.profile,
        project_dir=options.project_dir,
        overrides=_split_assignments(options.assignments),
        override_source="--set",
        progress=None if not as_json else False,
    )
    endpoint = report.endpoint()
    shown = None if endpoint is None else endpoint.value if options.show_secrets else _masked(endpoint.value)
    if as_json:
        data = report.to_json()
        if endpoint is not None:
            data["endpoint"] = {"field": endpoint.name, "value": shown, "source": str(endpoint.winner.origin)}
        click.echo(json.dumps(data, indent=2))
    else:
        for line in report.lines():
            click.echo(line)
        if endpoint is not None:
            origin = endpoint.winner.origin
            click.echo(f"{endpoint.name} = {shown}   ({origin.layer.label}: {origin})")
    if report.error is not None and report.fallback_reason is None:
        sys.exit(1)


def _masked(value: object) -> object:
    from ._model.secrets import mask_url_passwords

    return mask_url_passwords(value) if isinstance(value, str) else value


@main.command()
@common_options
@click.option("--project-name", metavar="NAME", help="Compose project to stop in (as given to `layercfg up`).")
@click.pass_context
def down(ctx: click.Context, /, project_name: str | None, **given: Any) -> None:
    """Stop what `layercfg up` started in the project, and only that (docs/lifecycle.md)."""
    from ._lifecycle import down as stop_stack

    options = _options(ctx, **given)
    receipts = stop_stack(
        None,
        project_name=project_name,
        profile=options.profile,
        project_dir=options.project_dir,
        overrides=_split_assignments(options.assignments),
        override_source="--set",
    )
    for line in receipts:
        click.echo(f"layercfg: {line}")


if __name__ == "__main__":  # pragma: no cover
    main()
