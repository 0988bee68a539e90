"""The group's options (``--config``, ``-v``, ``-q``) after any subcommand too.

``insightforge chat --config f.yaml hi`` and ``insightforge config validate -v`` mean what
``insightforge --config f.yaml chat hi`` and ``insightforge -v config validate`` mean: each
command a user reaches gets hidden copies of the group's options, whose values land where
the group's own go (``ctx.find_root().obj``). A command that already has an option of that
name (``chat -v``, ``serve -q``) keeps its own. Commands are adopted once, when the lazy
group first loads them, so ``insightforge --help`` pays nothing.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["GROUP_OPTIONS", "adopt"]

# (the root's ctx.obj key, the option's flags, is it a flag, help)
GROUP_OPTIONS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("config", ("--config",), False),
    ("verbose", ("-v", "--verbose"), True),
    ("quiet", ("-q", "--quiet"), True),
)
_ADOPTED = "_insightforge_group_options"


def _store(key: str) -> Any:
    def callback(ctx: click.Context, _: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return  # not given here: the group's value (or its env var) stands
        root = ctx.find_root()
        if not isinstance(root.obj, dict):
            root.obj = {}
        root.obj[key] = value

    return callback


def _names(command: click.Command) -> set[str]:
    taken: set[str] = set()
    for param in command.params:
        taken.update(getattr(param, "opts", ()))
        taken.update(getattr(param, "secondary_opts", ()))
    return taken


def adopt(command: click.Command) -> click.Command:
    """``command`` (and, for a group, every command in it) accepting the group options."""
    if getattr(command, _ADOPTED, False):
        return command
    taken = _names(command)
    for key, flags, is_flag in GROUP_OPTIONS:
        free = tuple(flag for flag in flags if flag not in taken)
        if len(free) != len(flags):
            continue  # the command has its own meaning for one of these names
        command.params.append(click.Option(
            list(free), is_flag=is_flag, default=False if is_flag else None, hidden=True,
            expose_value=False, callback=_store(key),
            type=None if is_flag else click.Path(dir_okay=False)))
    setattr(command, _ADOPTED, True)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            adopt(sub)
    return command
