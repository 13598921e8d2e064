"""Click's own words in the process's language, and its help wrapped in terminal columns.

Typer carries its own copy of Click (``typer._click``) that writes its words as English
f-strings ("Usage: ", "Error: …", "Missing argument 'symbol'.", "No such option: --x",
"Try '…' for help.", the ``--help`` option's help); only ``typer.core`` asks the standard
library's ``gettext`` ("Options", "Arguments", "Commands", "default:", "required" …), bound
at import as its module-level ``_``. :func:`install`, run once when the command starts in
another language than English (English touches nothing):

- points ``typer.core``'s ``_`` at the ``client`` catalog (its msgids are extracted from
  the installed Typer with this module: ``cli.help_extract`` reads :data:`GETTEXT_MODULES`
  and :data:`HELP_MODULES`);
- says the usage line's prefix, the ``--help`` option's help and the completion options'
  help in the language;
- has an error, after Click wrote it, said again line by line, and a prompt's own words as
  they are written: each English sentence of :data:`SENTENCES` (the copy's own templates)
  is read back and written from the catalog, a sentence it does not know stays as written;
- makes help measure, wrap and shorten in columns: Japanese is written in wide characters,
  two columns each (``unicodedata.east_asian_width``), where Click counts one a character;
  a run of them may break between any two (never before a closing mark such as ``。``).
"""

from __future__ import annotations

import gettext
import importlib
import io
import re
import sys
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import IO, Any

from tradealerts.client.lang import N_
from tradealerts.core.i18n import DEFAULT_LANGUAGE, normalise_language, translations

__all__ = ["GETTEXT_MODULES", "HELP_MODULES", "SENTENCES", "columns", "install", "say_again"]

#: Typer's modules that ask gettext (Rich's help panels are not used: rich_markup_mode=None)
GETTEXT_MODULES = ("typer.core", "typer.rich_utils")
#: modules holding plain ``help=`` literals Click shows (the completion options' help)
HELP_MODULES = ("typer.completion",)

#: the sentences ``typer._click`` writes as f-strings, as it writes them (longest first
#: where one starts like another)
SENTENCES = (
    N_("Try '{command} {option}' for help."),
    N_("Repeat for confirmation"),
    N_("Error: The two entered values do not match."),
    N_("Error: The value you entered was invalid."),
    N_("Error: invalid input"),
    N_("Error: {message}"),
    N_("No such option: {name} (Possible options: {possibilities})"),
    N_("No such option: {name}"),
    N_("Missing argument {name}."),
    N_("Missing option {name}."),
    N_("Missing parameter {name}."),
    N_("Missing parameter: {name}"),
    N_("Invalid value for {hint}: {message}"),
    N_("Invalid value: {message}"),
    N_("Got unexpected extra argument(s) ({args})"),
    N_("Option {name} requires an argument."),
    N_("Option {name} requires {nargs} arguments."),
    N_("Option {name} does not take a value."),
    N_("Argument {name} takes {nargs} values."),
    N_("Could not open file {filename}: {message}"),
    N_("Value {value} is not a valid {label}."),
    N_("{value} is not one of {choices}."),
    N_("{value} does not match the formats {formats}."),
    # pydantic's, which Typer converts a typed option's value with
    N_("Input should be a valid integer, unable to parse string as an integer"),
    N_("Input should be a valid integer, got a number with a fractional part"),
    N_("Input should be a valid number, unable to parse string as a number"),
    N_("Input should be a valid boolean, unable to interpret input"),
)
USAGE = N_("Usage:")
#: the ``--help`` option's help, a literal of ``typer._click.decorators``
HELP_OPTION = N_("Show this message and exit.")

#: what may not start a line (it closes what the character before it says), and what may
#: not end one (it opens what the next one says)
_CLOSING = frozenset("、。，．・：；！？）」』】〕〉》ー)]}.,:;!?")
_OPENING = frozenset("（「『【〔〈《([{")
_FIELD = re.compile(r"\\\{(\w+)\\\}")
_ORIGINAL: dict[tuple[Any, str], Any] = {}
_language = DEFAULT_LANGUAGE


# -- saying Click's sentences again ----------------------------------------------------------
@lru_cache(maxsize=64)
def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + _FIELD.sub(r"(?P<\1>.+?)", re.escape(template)) + "$", re.DOTALL)


def say_again(text: str, language: str | None = None) -> str:
    """``text`` (a sentence Click wrote, or one line of it) in ``language`` (the process's by
    default): a known sentence from the ``client`` catalog, its fields as they were (a
    ``message`` field said again in turn); anything else as it is."""
    lang = normalise_language(language or _language)
    if lang == DEFAULT_LANGUAGE:
        return text
    catalog = translations(lang, "client")
    for template in SENTENCES:
        found = _pattern(template).match(text)
        if found is None:
            continue
        fields = found.groupdict()
        if "message" in fields:
            fields["message"] = say_again(fields["message"], lang)
        return catalog.gettext(template).format(**fields)
    return text


def _said_lines(text: str) -> str:
    return "\n".join(say_again(line) for line in text.split("\n"))


# -- columns ---------------------------------------------------------------------------
def _char_columns(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def columns(text: str) -> int:
    """The terminal columns ``text`` takes: a wide character two, a mark none, an ANSI
    escape none (Click's ``term_len``, counted in columns)."""
    from typer._click._compat import strip_ansi

    plain = strip_ansi(text)
    return len(plain) if plain.isascii() else sum(map(_char_columns, plain))


def _cut(text: str, width: int) -> str:
    """The longest start of ``text`` within ``width`` columns, one character at least."""
    used = 0
    for i, char in enumerate(text):
        used += _char_columns(char)
        if used > width and i:
            return text[:i]
    return text


def _pieces(chunk: str) -> list[str]:
    """``chunk`` cut before each wide character (a closing mark stays with what it closes,
    an opening one with what it opens); a narrow run stays whole."""
    out: list[str] = []
    for char in chunk:
        wide = _char_columns(char) == 2
        if out and (char in _CLOSING or not (wide or _char_columns(out[-1][-1]) == 2)):
            out[-1] += char
        elif out and wide and out[-1][-1] in _OPENING:
            opener = out[-1][-1]
            out[-1] = out[-1][:-1]
            out[-1:] = [out[-1], opener + char] if out[-1] else [opener + char]
        else:
            out.append(char)
    return out


def _wrapper_class(base: type) -> type:
    class ColumnWrapper(base):  # type: ignore[misc]
        """Click's wrapper; text with wide characters is wrapped in columns instead."""

        def _split(self, text: str) -> list[str]:
            chunks: list[str] = super()._split(text)
            if text.isascii():
                return chunks
            return [piece for chunk in chunks for piece in _pieces(chunk)]

        def _wrap_chunks(self, chunks: list[str]) -> list[str]:
            if all(chunk.isascii() for chunk in chunks):
                return list(super()._wrap_chunks(chunks))
            lines: list[str] = []
            chunks.reverse()
            while chunks:
                indent = self.subsequent_indent if lines else self.initial_indent
                width = max(self.width - columns(indent), 1)
                if lines and not chunks[-1].strip():
                    chunks.pop()  # a line does not start with the space that broke it
                    continue
                line: list[str] = []
                used = 0
                while chunks and used + columns(chunks[-1]) <= width:
                    used += columns(chunks[-1])
                    line.append(chunks.pop())
                if not line:  # one word wider than the line: cut it
                    head = _cut(chunks[-1], width)
                    chunks[-1] = chunks[-1][len(head) :]
                    line.append(head)
                lines.append(indent + "".join(line).rstrip())
            return lines

    return ColumnWrapper


def _short_help(original: Callable[[str, int], str]) -> Callable[..., str]:
    def short_help(help: str, max_length: int = 45) -> str:
        """Click's short help; with wide characters, the first sentence, or as much of it
        as fits in ``max_length`` columns."""
        text = " ".join(help.split("\n\n")[0].split())
        if text.isascii():
            return original(help, max_length)
        first = text[: text.index("。") + 1] if "。" in text else text
        if columns(first) <= max_length:
            return first
        return _cut(first, max_length - 3).rstrip() + "..."

    return short_help


# -- installing ----------------------------------------------------------------------------
def _set(owner: Any, name: str, value: Any) -> None:
    _ORIGINAL.setdefault((owner, name), getattr(owner, name))
    setattr(owner, name, value)


def _restore() -> None:
    for (owner, name), value in _ORIGINAL.items():
        setattr(owner, name, value)
    _ORIGINAL.clear()


def _said_by_show(original: Callable[..., None]) -> Callable[..., None]:
    def show(self: Any, file: IO[Any] | None = None) -> None:
        from typer._click.utils import echo

        written = io.StringIO()
        original(self, written)
        echo(_said_lines(written.getvalue()), file=file or sys.stderr, nl=False)

    return show


def install(language: str | None) -> str:
    """Let Click speak ``language`` and measure help in columns; English (or an unknown
    language) gives Click back its own words and counting. Returns the language."""
    global _language
    _restore()
    _language = normalise_language(language)
    if _language == DEFAULT_LANGUAGE:
        return _language
    catalog = translations(_language, "client")
    importlib.import_module("typer.core")  # the panels' module is left alone unless loaded
    for name in GETTEXT_MODULES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "_", None) is gettext.gettext:
            _set(module, "_", catalog.gettext)
    from typer._click import _textwrap, core, exceptions, formatting, termui

    write_usage = formatting.HelpFormatter.write_usage
    _set(formatting.HelpFormatter, "write_usage", lambda self, prog, args="", prefix=None: (
        write_usage(self, prog, args, catalog.gettext(USAGE) + " " if prefix is None else prefix)
    ))  # fmt: skip
    get_params = core.Command.get_params

    def params(self: Any, ctx: Any) -> Any:
        # the help option and Typer's completion options, added after our texts were
        # translated (cli.help_language): said here, as Click lists them
        out = get_params(self, ctx)
        for param in out:
            said = getattr(param, "help", None)
            if said:
                param.help = catalog.gettext(said)  # type: ignore[attr-defined]
        return out

    _set(core.Command, "get_params", params)
    for cls in (exceptions.ClickException, exceptions.UsageError):
        _set(cls, "show", _said_by_show(cls.show))
    # a prompt's own words ("Repeat for confirmation", "Error: The two entered values do
    # not match."): its text as it is built, and what it echoes
    build_prompt, echo = termui._build_prompt, termui.echo  # type: ignore[attr-defined]
    _set(termui, "_build_prompt", lambda text, *a, **k: build_prompt(say_again(text), *a, **k))
    _set(termui, "echo", lambda message=None, *a, **k: echo(
        say_again(message) if isinstance(message, str) else message, *a, **k
    ))  # fmt: skip
    _set(formatting, "term_len", columns)
    _set(_textwrap, "TextWrapper", _wrapper_class(_textwrap.TextWrapper))
    _set(core, "make_default_short_help", _short_help(core.make_default_short_help))  # type: ignore[attr-defined]
    return _language
