"""A Typer group that builds a subcommand only when it is used.

Typer turns every registered command into a Click command when the app starts: it imports every
command module and reads every signature, though one run uses one command. ``LazyGroup`` names
its subcommands in a table instead (``lazy``: name -> ``"module:attribute"`` and the first
paragraph of its help). A subcommand's module is imported, and the command built exactly as
``app.command()`` / ``app.add_typer()`` would build it, when the command runs, shows its help or
is completed; the group's own ``--help`` lists every command from the table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from tradealerts.cli.help_language import translate_command, translate_text
from tradealerts.client.lang import _

__all__ = ["LazyGroup"]


class _Commands(MutableMapping[str, Any]):
    """The group's commands by name, in the table's order; each is built on first access."""

    def __init__(self, names: Iterable[str], build: Callable[[str], Any]) -> None:
        self._names = list(names)
        self._build = build
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._names:
                raise KeyError(name)
            self._built[name] = self._build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command
        if name not in self._names:
            self._names.append(name)

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)

    def __contains__(self, name: object) -> bool:  # without building it
        return name in self._names

    def built(self, name: str) -> bool:
        return name in self._built

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)


class LazyGroup(TyperGroup):
    """Subclass it with ``lazy`` set, and pass the subclass as ``typer.Typer(cls=...)``."""

    #: name -> ("package.module:attribute", first paragraph of its help). The attribute is a
    #: function (built as ``app.command()(f)``) or a ``typer.Typer`` (``app.add_typer(t)``).
    lazy: ClassVar[Mapping[str, tuple[str, str]]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        eager = dict(self.commands)  # any registered on the Typer app itself
        self._lazy_commands = _Commands(self.lazy, self._build)
        self._lazy_commands.update(eager)
        self.commands = self._lazy_commands
        translate_command(self)  # --help in the process's language (and the eager ones)

    def built(self, name: str) -> bool:
        """Whether the command ``name`` is built already (listing it builds nothing)."""
        return self._lazy_commands.built(name)

    def _build(self, name: str) -> Any:
        module, attribute = self.lazy[name][0].split(":")
        target = getattr(importlib.import_module(module), attribute)
        # A Typer app holding just this command gives Typer's own conversion; the settings a
        # root passes down to its commands (the help's markup mode) are this group's.
        holder = typer.Typer(rich_markup_mode=self.rich_markup_mode)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
        else:
            # a command's own Click class (``NegativeNumbers``), as ``app.command(cls=...)``
            holder.command(name, cls=getattr(target, "command_cls", None))(target)
        command = typer.main.get_group(holder).commands[name]
        translate_command(command)
        return command

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """TyperGroup's "Commands:" section, with each command's short help taken from the
        table for a command not built yet (so listing them imports none)."""
        rows: list[tuple[str, Any]] = []
        for name in self.list_commands(ctx):
            command = self._describe(name)
            if not command.hidden:
                rows.append((name, command))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section(_("Commands")):
            formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in rows])

    def _describe(self, name: str) -> Any:
        """The built command, or a stand-in with the table's help that Click can shorten."""
        if name not in self.lazy or self._lazy_commands.built(name):
            return self.commands[name]
        return TyperCommand(name, help=translate_text(self.lazy[name][1]))
