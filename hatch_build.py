"""The build's catalog step: every ``.po`` under ``src/tradealerts/locale`` becomes a ``.mo``.

Hatchling runs this hook for wheels and for editable installs (``pip install -e .``, which
``make install`` does), so a translation is never committed as a binary by hand: the
``.po`` is the source, the ``.mo`` a build product (ignored by git, shipped in the wheel as
an artifact). An sdist ships the ``.po`` only; building a wheel from it compiles them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LOCALE = Path("src") / "tradealerts" / "locale"


def compile_catalogs(root: Path) -> list[Path]:
    """Compile every ``<lang>/LC_MESSAGES/<domain>.po`` below ``root/LOCALE``; return the
    ``.mo`` paths written. Fuzzy entries are left out (gettext falls back to English)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted((root / LOCALE).glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name, domain=po.stem)
        mo = po.with_suffix(".mo")
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as out:
            write_mo(out, catalog, use_fuzzy=False)
        os.replace(tmp, mo)  # a reader never sees half a catalog
        written.append(mo)
    return written


class CatalogBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """``[tool.hatch.build.hooks.custom]``: compile the catalogs before the files are
    collected, and ship the (git-ignored) ``.mo`` files as artifacts."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":  # sdist: the sources only
            return
        root = Path(self.root)
        for mo in compile_catalogs(root):
            build_data["artifacts"].append("/" + mo.relative_to(root).as_posix())
