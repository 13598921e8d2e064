"""Every translation catalog is complete and safe: each language's ``.po`` of each domain
has every message of the domain's ``.pot`` (which is up to date with the code), none empty
or fuzzy, each with exactly the placeholders of its English original.

A missing, empty, fuzzy or broken entry fails here, not in front of a reader (where
``core.messages`` would fall back to English, or ``str.format`` raise)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from tradealerts.core.i18n import DOMAINS, LANGUAGES, LOCALE_DIR

TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]
_PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc%]")


def _read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


def placeholders(text: str) -> list[str]:
    """The ``{name!conv:spec}`` and ``%(name)s`` fields of ``text``, sorted (``{{`` and
    ``%%`` are literal text, not fields)."""
    fields = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:  # an unbalanced brace: never a valid str.format text
        return ["<unbalanced braces>"]
    for _literal, name, spec, conv in parsed:
        if name is not None:
            fields.append(f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}")
    fields += [m.group(0) for m in _PERCENT.finditer(text) if m.group(0) != "%%"]
    return sorted(fields)


def problems(template: Catalog, catalog: Catalog) -> list[str]:
    """What is wrong with ``catalog`` against its ``template`` (empty: nothing)."""
    out = []
    for entry in template:
        if not entry.id:
            continue
        key = entry.id if isinstance(entry.id, str) else entry.id[0]
        found: Message | None = catalog.get(entry.id, entry.context)
        if found is None:
            out.append(f"missing: {key!r}")
            continue
        if found.fuzzy:
            out.append(f"fuzzy: {key!r}")
        ids = [entry.id] if isinstance(entry.id, str) else list(entry.id)
        strings = [found.string] if isinstance(found.string, str) else list(found.string)
        if not strings or any(not s for s in strings):
            out.append(f"empty: {key!r}")
            continue
        expected = placeholders(ids[-1])
        for said in strings:
            if placeholders(said) != expected:
                out.append(f"placeholders of {key!r}: {placeholders(said)} != {expected}")
            if ids[0].endswith("\n") != said.endswith("\n"):
                out.append(f"trailing newline of {key!r} differs")
    return out


def test_the_checker_catches_each_kind_of_broken_entry() -> None:
    """The check itself: a missing, an empty, a fuzzy entry and a lost, renamed or added
    placeholder are each reported (so a green run means something)."""
    template = Catalog()
    for msgid in ("Alert {id} expired", "Hello %(name)s", "Plain", "Gone", "Fuzzy {x}"):
        template.add(msgid)
    broken = Catalog(locale="de")
    broken.add("Alert {id} expired", "Alarm {alert_id} abgelaufen")  # renamed
    broken.add("Hello %(name)s", "Hallo")  # lost
    broken.add("Plain", "")  # empty
    broken.add("Fuzzy {x}", "Unscharf {x}", flags=["fuzzy"])
    found = problems(template, broken)
    assert any(p.startswith("placeholders of 'Alert {id} expired'") for p in found)
    assert any(p.startswith("placeholders of 'Hello %(name)s'") for p in found)
    assert "empty: 'Plain'" in found
    assert "missing: 'Gone'" in found
    assert "fuzzy: 'Fuzzy {x}'" in found
    extra = Catalog(locale="de")
    extra.add("Plain", "Schlicht {surprise}")  # a field English does not fill
    assert any("placeholders" in p for p in problems(_only(template, "Plain"), extra))


def _only(template: Catalog, msgid: str) -> Catalog:
    out = Catalog()
    out.add(msgid)
    return out


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_template_holds_every_message_of_the_code(domain: str) -> None:
    """``<domain>.pot`` is what `make catalogs` extracts now: a message added to the code
    without `make catalogs` (so untranslated everywhere) fails here."""
    mapping = LOCALE_DIR / f"babel-{domain}.cfg"
    method_map, options_map = _mapping(mapping)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}  # pybabel's defaults and `-k N_`
    extracted = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(LOCALE_DIR.parent), method_map, options_map, keywords=keywords
    ):
        extracted.add(message if isinstance(message, str) else message[0])
    template = {
        e.id if isinstance(e.id, str) else e.id[0] for e in _read(LOCALE_DIR / f"{domain}.pot")
    }
    template.discard("")
    assert extracted - template == set(), "run `make catalogs`: new messages"
    assert template - extracted == set(), "run `make catalogs`: messages gone from the code"


def _mapping(path: Path) -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    from babel.messages.frontend import parse_mapping_cfg

    with path.open() as fh:
        return parse_mapping_cfg(fh, filename=str(path))


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_catalog_is_complete_with_the_same_placeholders(domain: str, lang: str) -> None:
    template = _read(LOCALE_DIR / f"{domain}.pot")
    catalog = _read(LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po")
    assert problems(template, catalog) == []


#: the formal address ("Sie" and its possessives/dative), capitalized: a lowercase "sie"
#: or "ihr…" is "they/it/her/their" and stays
_FORMAL = re.compile(r"\b(?:Sie|Ihr|Ihre|Ihren|Ihrem|Ihrer|Ihres|Ihnen)\b")
_OPENING = "\"'„“«»‚‘ \t"


def formal_words(text: str) -> list[str]:
    """The formal pronouns of a German ``text``: each capitalized ``Sie``/``Ihr…``/``Ihnen``
    that does not open a sentence (the start of the text or of a line, or after ``.``,
    ``!`` or ``?``), where only the formal "you" is capitalized. At a sentence start the
    capital says nothing ("Sie sind älter" may be "they"): that case is left alone."""
    found = []
    for match in _FORMAL.finditer(text):
        before = text[: match.start()]
        gap = before[len(before.rstrip(_OPENING + "\n")) :]
        head = before.rstrip(_OPENING + "\n")
        if not head or "\n" in gap or head.endswith((".", "!", "?")):
            continue
        found.append(match.group(0))
    return found


def test_the_formal_check_tells_you_from_they() -> None:
    """The check itself: formal pronouns mid-sentence are found; "sie" = they (lowercase)
    and a capital at a sentence start are not."""
    assert formal_words("Geben Sie den Code ein.") == ["Sie"]
    assert formal_words("Fehler: Sie haben keinen Alarm.") == ["Sie"]
    assert formal_words("Jeder Ihrer Alarme, nicht nur Ihre.") == ["Ihrer", "Ihre"]
    assert formal_words("Ein Code wird Ihnen gesendet (Ihr Tarif).") == ["Ihnen", "Ihr"]
    assert formal_words("Einige Alarme fehlen: sie sind älter, als der Server sie hält.") == []
    assert formal_words("Alarme und ihr Verlauf; ihre Kanäle; mit ihnen.") == []
    assert formal_words("Sie sind älter. Ihr Verlauf bleibt!\nIhre Kanäle?\n„Sie fehlen.“") == []
    assert formal_words("Sieben Ihrerseits") == []  # whole words only


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_german_catalog_says_du_not_sie(domain: str) -> None:
    """German addresses the reader one way, informally ("du", "dein", "dir", lower-case
    mid-sentence) as the server always did: no msgstr of ``de/<domain>.po`` holds a formal
    "Sie"/"Ihr…"/"Ihnen", so a reader never sees both in one session."""
    catalog = _read(LOCALE_DIR / "de" / "LC_MESSAGES" / f"{domain}.po")
    formal = []
    for entry in catalog:
        if not entry.id:
            continue
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        for said in strings:
            if words := formal_words(said or ""):
                formal.append((words, said))
    assert formal == []
