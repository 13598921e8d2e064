"""Negative numbers as values: ``alerts create EURUSD H1 crossing -1``.

Click reads any word that starts with ``-`` as an option, so ``-1`` was "No such option: -1"
and the value never reached the check that explains what is wrong with it. Commands built
with ``cls=NegativeNumbers`` read a word that is a negative number (and not one of their
options) as a value: it is shielded from the parser by a leading space, which int() and
float() ignore, and the space is taken off again before the command sees any text.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperCommand

__all__ = ["NegativeNumbers"]

_NEGATIVE = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_SHIELD = " "


def _unshield(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith(_SHIELD) and _NEGATIVE.match(value[len(_SHIELD) :]):
            return value[len(_SHIELD) :]
        return value
    if isinstance(value, list | tuple):
        return type(value)(_unshield(v) for v in value)
    return value


class NegativeNumbers(TyperCommand):
    """A Typer command whose arguments and option values may be negative numbers."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        options = {name for p in self.params for name in (*p.opts, *p.secondary_opts)}
        shielded = [_SHIELD + a if _NEGATIVE.match(a) and a not in options else a for a in args]
        rest = super().parse_args(ctx, shielded)
        for name, value in ctx.params.items():
            ctx.params[name] = _unshield(value)
        return [_unshield(a) for a in rest]
