"""Server prose that is written in English and said in the reader's language.

``_("No alert {alert_id}.", alert_id=7)`` is a :class:`Text`: a ``str`` holding the English
sentence (so logs, comparisons and existing callers see exactly what they saw before) that
also keeps its msgid and parameters, so it can be said again in another language at the
last moment, when the reader is known (the error handler, a mail's recipient).
``pybabel extract`` finds every ``_("...")`` of the ``server`` domain (``make catalogs``).

Placeholders are ``str.format`` names (``{alert_id}``), identical in every translation.
In a translation, parameters are formatted for the reader's locale with Babel: floats and
decimals as numbers (every digit kept: a price is never rounded), datetimes and dates in
the locale's medium form; strings and ints as they are (ids, codes, counts). English keeps
the form the code wrote, so English text is unchanged by this module.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tradealerts.core.i18n import (
    DEFAULT_LANGUAGE,
    current_language,
    normalise_language,
    translations,
)

__all__ = [
    "N_",
    "OneOf",
    "Said",
    "Sentence",
    "Text",
    "When",
    "_",
    "fold_spaces",
    "format_number",
    "localise",
    "localise_params",
    "reader_language",
    "set_reader",
]

DOMAIN = "server"


class Text(str):
    """An English sentence that can be said again in another language (see module doc)."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any]) -> Text:
        self = super().__new__(cls, msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params
        return self

    def __reduce__(self) -> tuple[type[Text], tuple[str, dict[str, Any]]]:
        return (Text, (self.msgid, self.params))  # pickles (multiprocessing) as a Text

    def into(self, language: str | None) -> str:
        """This sentence in ``language`` (English when it has no translation)."""
        lang = normalise_language(language)
        if lang == DEFAULT_LANGUAGE:
            return str(self)
        said = translations(lang, DOMAIN).gettext(self.msgid)
        if not self.params:
            return said
        try:
            return said.format(**localise_params(self.params, lang))
        except (KeyError, IndexError, ValueError):
            # a broken translation (the catalog test guards against it) never costs the
            # reader the message: the English one is still right
            return str(self)


#: who reads what is being written now: the server sets it per request (its language is
#: known only once the caller is: see server.language); elsewhere the context's language
_reader: ContextVar[Callable[[], str] | None] = ContextVar("tradealerts_reader", default=None)


def set_reader(language_of_reader: Callable[[], str] | None) -> None:
    """Say, for this context, how to find the reader's language when it is needed."""
    _reader.set(language_of_reader)


def reader_language() -> str:
    """The language of whoever reads what is written now (``en`` when unknown)."""
    find = _reader.get()
    return find() if find is not None else current_language()


def fold_spaces(text: str) -> str:
    """``text`` with each run of spaces one and none at its ends (a sentence whose field
    was empty)."""
    # most sentences have no run to fold: checked in C before splitting in Python
    if "  " in text or text[:1] == " " or text[-1:] == " " or not text.isprintable():
        return " ".join(text.split())
    return text


class Sentence(Text):
    """A Text whose runs of spaces are one (an empty field leaves no double space)."""

    def __new__(cls, msgid: str, params: dict[str, Any]) -> Sentence:
        self = str.__new__(cls, fold_spaces(msgid.format(**params)))
        self.msgid = msgid
        self.params = params
        return self

    def __reduce__(self) -> tuple[type[Text], tuple[str, dict[str, Any]]]:
        return (Sentence, (self.msgid, self.params))

    def into(self, language: str | None) -> str:
        return " ".join(super().into(language).split())


class Said(Text):
    """A Text whose English is someone else's sentence, kept word for word (pydantic's own
    message); other languages say ``msgid``, ours, from the catalog."""

    def __new__(cls, english: str, msgid: str, params: dict[str, Any]) -> Said:
        self = str.__new__(cls, english)
        self.msgid = msgid
        self.params = params
        return self

    def __reduce__(self) -> tuple[type[Said], tuple[str, str, dict[str, Any]]]:  # type: ignore[override]
        return (Said, (str(self), self.msgid, self.params))


class OneOf:
    """Alternatives in prose (``'H1', 'H4' or 'D1'``): as written in English, joined with
    the locale's "or" otherwise (Babel)."""

    __slots__ = ("english", "items")

    def __init__(self, english: str, items: list[str]) -> None:
        self.english, self.items = english, items

    @classmethod
    def parse(cls, english: str) -> OneOf:
        """``'a', 'b' or 'c'`` (pydantic's ``expected``) read back into its items."""
        head, _or, last = english.rpartition(" or ")
        return cls(english, [*head.split(", "), last] if head else [last])

    def __format__(self, spec: str) -> str:
        return format(self.english, spec)

    def __str__(self) -> str:
        return self.english

    def into(self, language: str) -> str:
        from babel.lists import format_list

        return str(format_list(self.items, style="or", locale=language))


def N_(msgid: str) -> str:
    """Mark ``msgid`` for the catalog where it is written, to be said later (a table)."""
    return msgid


def _(msgid: str, /, **params: Any) -> Text:
    """Mark ``msgid`` for the ``server`` catalog; ``params`` fill its ``{name}`` fields."""
    return Text(msgid, params)


def format_number(value: float | Decimal, language: str) -> str:
    """``value`` with the locale's decimal sign and grouping, every digit kept (a Decimal
    keeps its trailing zeros: ``Decimal("1.09000")`` is a price with five decimals)."""
    from babel.numbers import format_decimal

    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        pattern = "#,##0." + "0" * places if places else "#,##0"
        return str(format_decimal(value, format=pattern, locale=language))
    return str(format_decimal(value, locale=language, decimal_quantization=False))


class When:
    """A moment in prose: ``english`` as the code always wrote it, the locale's medium
    date and time (UTC) in a translation."""

    __slots__ = ("english", "moment")

    def __init__(self, moment: datetime, english: str) -> None:
        self.moment, self.english = moment, english

    def __format__(self, spec: str) -> str:
        return format(self.english, spec)

    def __str__(self) -> str:
        return self.english

    def into(self, language: str) -> str:
        from babel.dates import format_datetime

        return f"{format_datetime(self.moment, 'medium', tzinfo=UTC, locale=language)} UTC"


def localise_params(params: dict[str, Any], language: str) -> dict[str, Any]:
    """``params`` as prose in ``language``: numbers and dates per locale, nested Texts
    translated, everything else as it is."""
    from babel.dates import format_date, format_datetime

    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Text | When | OneOf):
            out[name] = value.into(language)
        elif isinstance(value, int):  # ids, counts (bool is an int)
            out[name] = value
        elif isinstance(value, float | Decimal):
            out[name] = format_number(value, language)
        elif isinstance(value, datetime):
            out[name] = format_datetime(value, format="medium", locale=language)
        elif isinstance(value, date):
            out[name] = format_date(value, format="medium", locale=language)
        else:
            out[name] = value
    return out


def localise(text: str, language: str | None) -> str:
    """``text`` in ``language``: a :class:`Text` is translated; a plain string is looked
    up as it is (a constant sentence raised without ``_``) and otherwise left English."""
    if isinstance(text, Text):
        return text.into(language)
    lang = normalise_language(language)
    if lang == DEFAULT_LANGUAGE or not text:
        return text
    return translations(lang, DOMAIN).gettext(text)
