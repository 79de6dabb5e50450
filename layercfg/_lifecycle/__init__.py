"""The stack's lifecycle: find what runs, start what is missing, stop what this run started.

:func:`up` reads the load's ``lifecycle``, ``lifecycle_services``, ``compose_files``,
``compose_project``, ``compose_project_directory`` and ``docker_startup_timeout`` settings (with
their receipts), asks the real Compose v2 CLI (:mod:`.compose_cli`) what runs in the
project, and runs ``up -d --wait`` for the services that are missing. Every decision is a
receipt (:class:`ServiceOutcome`); every failure a :class:`layercfg.StackError` naming the
service, with the last lines of its log, or, when staging fallback is on, the fallback's reason.

What a run started is recorded in ``.layercfg/lifecycle/PROJECT.json`` under the project
directory, so ``layercfg down`` (and :meth:`StackReport.stop`) stop that and only that.

The package, one file per thing it does: ``compose_cli`` finds and runs Compose and reads its
answers; ``engine`` asks the engine for the project's containers in one call; ``plan`` reads the
settings and chooses the services; ``project`` names the compose project, holds its lock and its
record of what was started, and stops that; ``watch`` follows a start; ``failures`` says why one
failed; ``report`` is the receipt; ``stack`` is ``up`` and ``down``.
"""

from __future__ import annotations

from .report import ServiceOutcome, StackReport
from .stack import down, stop_started, up

__all__ = ["ServiceOutcome", "StackReport", "down", "stop_started", "up"]
