"""``--help`` in the process's language: the built Click commands' texts, translated in place.

The source keeps its English literals (``help=...``, command docstrings), which
``cli.help_extract`` puts in the ``client`` catalog; ``LazyGroup`` calls ``translate_command``
on each command it builds (and on itself), after ``main()`` has chosen the language and before
Click renders a help. English is unchanged (``_()`` returns the msgid).
"""

from __future__ import annotations

from typing import Any

from tradealerts.client.lang import _

__all__ = ["translate_command", "translate_text"]

_DONE = "_tradealerts_translated"


def translate_text(text: str | None) -> str | None:
    """``text`` in the process's language (``None`` and ``""`` as they are: gettext's ``""``
    is the catalog's header)."""
    return _(text) if text else text


def translate_command(command: Any) -> None:
    """Translate ``command``'s help, short help and its parameters' help, and those of the
    subcommands it already holds (a ``LazyGroup`` translates the ones it builds later)."""
    if getattr(command, _DONE, False):
        return
    setattr(command, _DONE, True)
    command.help = translate_text(command.help)
    command.short_help = translate_text(command.short_help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = translate_text(param.help)
    subcommands = getattr(command, "commands", {})
    for name in list(subcommands):
        # a LazyGroup's unbuilt commands are translated when it builds them (never built here)
        # (asked by its ``built`` method, not its type: cli.lazy imports this module)
        built = getattr(command, "built", None)
        if built is not None and not built(name):
            continue
        translate_command(subcommands[name])
