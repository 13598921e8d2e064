"""Whose language a request's prose is in: the caller's ``language`` once they are known
(set by the auth dependencies), else the request's ``Accept-Language``, else English; and
pydantic's own validation messages said in it (``validation_text``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Scope

from tradealerts.core.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalise_language
from tradealerts.core.messages import N_, OneOf, Said, Text

__all__ = [
    "accept_language",
    "remember_language",
    "request_language",
    "scope_language",
    "validation_text",
]


def accept_language(header: str | None) -> str:
    """The best of our languages in an ``Accept-Language`` header (RFC 9110 q-values;
    ``de-CH;q=0.8`` counts as ``de``), English when none of them is named."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate((header or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        code = tag.strip().replace("_", "-").split("-")[0].lower()
        if code not in LANGUAGES or q <= 0:
            continue
        # the first of equal weights wins (q is at most 1, position breaks ties)
        if q > best_q or (q == best_q and position == 0):
            best, best_q = code, q
    return best


def remember_language(conn: HTTPConnection, language: str | None) -> None:
    """The caller's own choice, for the rest of this request (its errors included)."""
    conn.state.language = normalise_language(language)


def request_language(conn: HTTPConnection) -> str:
    """The language to answer this request's prose in."""
    chosen = getattr(conn.state, "language", None)
    if chosen:
        return str(chosen)
    return accept_language(conn.headers.get("accept-language"))


def scope_language(scope: Scope) -> str:
    """``request_language`` from the raw ASGI scope (middlewares, the error body builder):
    the caller's choice kept in the request's state, else its Accept-Language."""
    state: Any = scope.get("state") or {}
    chosen = state.get("language") if isinstance(state, dict) else None
    if chosen:
        return str(chosen)
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            return accept_language(value.decode("latin-1"))
    return accept_language(None)


# -- pydantic's messages ----------------------------------------------------------------
_NUMBER = N_("Should be a number.")
_WHOLE = N_("Should be a whole number.")
_LIST = N_("Should be a list.")
_OBJECT = N_("Should be an object.")
_DATE = N_("Should be a date (YYYY-MM-DD).")
_DATETIME = N_("Should be a date and time (ISO 8601, e.g. 2026-12-07T14:00:00Z).")
_URL = N_("Should be a valid URL.")
_UUID = N_("Should be a valid UUID.")
_DECIMAL = N_("Should be a decimal number.")
_ONE_OF = N_("Should be {expected}.")
_PAST = N_("Should be in the past.")
_FUTURE = N_("Should be in the future.")
_AT_MOST_CHARS = N_("Should have at most {max_length} characters.")
#: a message of a kind not listed: the field it names is said before it
_ANY = N_("This value is not valid.")

#: pydantic's error ``type`` -> our sentence, its ``{fields}`` from the error's ``ctx``
#: (English keeps pydantic's own words; only the other languages read this)
PYDANTIC: dict[str, str] = {
    "missing": N_("This field is required."),
    "extra_forbidden": N_("This field is not expected here."),
    "string_type": N_("Should be a string."),
    "string_unicode": N_("Should be a string."),
    "string_too_short": N_("Should have at least {min_length} characters."),
    "string_too_long": _AT_MOST_CHARS,
    "string_pattern_mismatch": N_("Should match the pattern {pattern}."),
    "string_not_ascii": N_("Should hold ASCII characters only."),
    "enum": _ONE_OF,
    "literal_error": _ONE_OF,
    "int_type": _WHOLE,
    "int_parsing": _WHOLE,
    "int_parsing_size": _WHOLE,
    "int_from_float": N_("Should be a whole number, without a fractional part."),
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "finite_number": N_("Should be a finite number."),
    "bool_type": N_("Should be true or false."),
    "bool_parsing": N_("Should be true or false."),
    "greater_than": N_("Should be greater than {gt}."),
    "greater_than_equal": N_("Should be at least {ge}."),
    "less_than": N_("Should be less than {lt}."),
    "less_than_equal": N_("Should be at most {le}."),
    "multiple_of": N_("Should be a multiple of {multiple_of}."),
    "too_short": N_("Should have at least {min_length} items, not {actual_length}."),
    "too_long": N_("Should have at most {max_length} items, not {actual_length}."),
    "list_type": _LIST,
    "tuple_type": _LIST,
    "set_type": _LIST,
    "iterable_type": _LIST,
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "dataclass_type": _OBJECT,
    "none_required": N_("Should be null."),
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": N_("Should be a date, without a time of day."),
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "timezone_aware": N_("Should carry a time zone (Z or an offset such as +02:00)."),
    "timezone_naive": N_("Should not carry a time zone."),
    "date_past": _PAST,
    "datetime_past": _PAST,
    "date_future": _FUTURE,
    "datetime_future": _FUTURE,
    "time_type": N_("Should be a time of day (HH:MM)."),
    "time_parsing": N_("Should be a time of day (HH:MM)."),
    "time_delta_type": N_("Should be a duration."),
    "time_delta_parsing": N_("Should be a duration."),
    "url_type": _URL,
    "url_parsing": _URL,
    "url_syntax_violation": _URL,
    "url_too_long": _AT_MOST_CHARS,
    "url_scheme": N_("The URL's scheme should be {expected_schemes}."),
    "uuid_type": _UUID,
    "uuid_parsing": _UUID,
    "decimal_type": _DECIMAL,
    "decimal_parsing": _DECIMAL,
    "decimal_max_digits": N_("Should have at most {max_digits} digits."),
    "decimal_max_places": N_("Should have at most {decimal_places} decimal places."),
    "decimal_whole_digits": N_(
        "Should have at most {whole_digits} digits before the decimal point."
    ),
    "union_tag_invalid": N_("{tag} is not one of the expected values: {expected_tags}."),
    "union_tag_not_found": N_("The field {discriminator} is missing."),
    "json_type": N_("Should be JSON."),
}
_EMAIL = N_("Should be a valid email address.")


def validation_text(error: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as a sentence that can be
    said in the reader's language: our validators' own :class:`Text`; pydantic's built-in
    messages word for word in English (less a ``Value error, `` prefix), our sentence
    for their kind in the other languages."""
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    first = cause.args[0] if isinstance(cause, Exception) and cause.args else None
    if isinstance(first, Text):
        return first
    english = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    kind = str(error.get("type", ""))
    if kind == "value_error" and english.startswith("value is not a valid email address"):
        return Said(english, _EMAIL, {})
    if kind == "value_error" or kind not in PYDANTIC:
        # a ValueError's own words (another library's): known to the catalog or English
        return english if kind == "value_error" else Said(english, _ANY, {})
    params = {k: v for k, v in ctx.items() if k != "error"}
    if isinstance(params.get("expected"), str):
        params["expected"] = OneOf.parse(params["expected"])
    return Said(english, PYDANTIC[kind], params)
