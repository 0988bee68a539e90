"""The ``insightforge`` command. Each command group lives in its own module and is imported
only when invoked, so ``insightforge --help`` and every command start fast.

Commands come from two places: the CLI's own (:data:`COMMANDS`, the inspection commands of
the layers included — the CLI is the top floor and may import ``middleware``) and the
entry-point group ``insightforge.commands``, through which a plugin adds its own.

Exit codes (docs/cli.md): 0 success; 1 the provider or a layer failed (the error printed in
one line); 2 bad usage or bad configuration; 3 no credential; 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

__all__ = ["COMMANDS", "main"]

# command name -> "module:attribute"; each module is written by the issue that owns it.
COMMANDS: dict[str, str] = {
    "chat": "insightforge.cli.chat:chat",
    "embed": "insightforge.cli.embed:embed",
    "prices": "insightforge.cli.prices:prices",
    "providers": "insightforge.cli.providers:providers",
    "keys": "insightforge.cli.keys:keys",
    "config": "insightforge.cli.config:config",
    "emulator": "insightforge.cli.emulator:emulator",
    "demo": "insightforge.cli.demo:demo",
    "serve": "insightforge.cli.serve:serve",
    "audit": "insightforge.cli.audit:audit",
    "budget": "insightforge.cli.budget:budget",
    "cache": "insightforge.cli.cache:cache",
    "gateway": "insightforge.cli.gateway:gateway",
    "logs": "insightforge.cli.logs:logs",
    "models": "insightforge.cli.models:models",
}


COMMAND_GROUP = "insightforge.commands"


def _targets() -> dict[str, str]:
    """Every command name -> ``module:attribute``: entry points, then the core's own."""
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group=COMMAND_GROUP)}
    return {**found, **COMMANDS}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _targets() if self._load(name) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name) or _targets().get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            command: Any = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            return None
        if not isinstance(command, click.Command):
            return None
        from insightforge.cli._group_options import adopt

        return adopt(command)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="insightforge")
@click.option("-v", "--verbose", is_flag=True,
              help="Show details: tracebacks on errors; for chat and embed also the trace "
              "and usage (--trace, --usage).")
@click.option("-q", "--quiet", is_flag=True,
              help="No live status line on stderr while a call waits (retries, fallbacks, "
              "rate limits).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              envvar="INSIGHTFORGE_CONFIG", help="Config file (default: ./insightforge.yaml, "
              "then the user config dir).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool, config_path: str | None) -> None:
    """InsightForge: call any LLM provider through one stack of middleware.

    --config, -v and -q may also follow the command: `insightforge chat --config f.yaml hi`.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet
    ctx.obj["config"] = config_path


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: errors become one clear line and an exit code."""
    from insightforge.cli._errors import run

    sys.exit(run(cli, argv))
