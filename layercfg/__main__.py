"""``python -m layercfg`` runs the CLI."""

from .cli import main

main(prog_name="layercfg")
