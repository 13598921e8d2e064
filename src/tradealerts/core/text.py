"""The one rule for free text that people type (alert messages, support tickets, profile
fields): no control characters.

Refused: every C0 control (NUL included), DEL, every C1 control (NEL included), and the
Unicode line and paragraph separators U+2028/U+2029. Line breaks (CR, LF) and tabs are
allowed only in fields whose docs say they take several lines (a support body, a bio).

Why: PostgreSQL cannot store NUL in a text column, and a line break or U+2028 in a mail
header is refused by the mail library (or, worse, starts a new header). One bad value must
never reach a place where it stops other people's data, so it is refused at the door
(``SingleLine``/``MultiLine`` in the wire schemas: 422 naming the field) and made safe at
every exit (``make_safe``) for text stored before the rule.

Validation context: ``{"stored": True}`` (text read back from the database) lets old text
through unchanged, so a row written before the rule can still be read, listed and fixed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo
from pydantic_core import PydanticCustomError

__all__ = [
    "MultiLine",
    "SingleLine",
    "check_multi_line",
    "check_single_line",
    "make_safe",
    "unsafe_reason",
]

# Cc (C0, DEL, C1) + Zl + Zp: the characters no single-line field may hold
_SINGLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# the same, but tab, LF and CR are text in a multi-line field
_MULTI = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
# what a line break becomes where it may not stand: a space keeps the words apart
_BREAKS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _name(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def unsafe_reason(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` may not be stored or sent as it is (naming the first bad character and
    where it is), or None when it is fine."""
    m = (_MULTI if multiline else _SINGLE).search(text)
    if m is None:
        return None
    return f"control character {_name(m.group())} at position {m.start()}"


def make_safe(text: str, *, multiline: bool = False) -> str:
    """``text`` with every refused character replaced: line breaks by a space, anything
    else by U+FFFD (so a reader sees that something was there)."""
    pattern = _MULTI if multiline else _SINGLE
    if pattern.search(text) is None:
        return text  # the common case costs one scan
    return pattern.sub(lambda m: " " if m.group() in _BREAKS else "\ufffd", text)


def _stored(info: ValidationInfo) -> bool:
    context = info.context if isinstance(info.context, Mapping) else {}
    return bool(context.get("stored"))


def check_single_line(value: str, info: ValidationInfo) -> str:
    """The pydantic validator of ``SingleLine`` (usable with ``AfterValidator``)."""
    return _check(value, info, multiline=False)


def check_multi_line(value: str, info: ValidationInfo) -> str:
    """The pydantic validator of ``MultiLine``."""
    return _check(value, info, multiline=True)


def _check(value: str, info: ValidationInfo, *, multiline: bool) -> str:
    reason = unsafe_reason(value, multiline=multiline)
    if reason is None or _stored(info):
        return value
    where = "" if multiline else "; it takes one line"
    raise PydanticCustomError(
        "control_character", "must not contain control characters ({reason}){where}",
        {"reason": reason, "where": where},
    )  # fmt: skip


#: One line of free text: no control characters, no line breaks.
SingleLine = Annotated[str, AfterValidator(check_single_line)]
#: Several lines of free text: line breaks and tabs allowed, other control characters not.
MultiLine = Annotated[str, AfterValidator(check_multi_line)]
