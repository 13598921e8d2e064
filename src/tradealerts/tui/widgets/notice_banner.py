"""The banner of the owner's maintenance notices (issue #29): one line per current notice,
above every screen (the status bar mounts it), hidden while there is none."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.widget import Widget

from tradealerts.client.notices import describe
from tradealerts.tui.base import ta

__all__ = ["NoticeBanner", "current_notices"]

#: a notice without a window shows this long after it was made (as the server keeps it)
PLAIN_KEEP = timedelta(days=1)


def _when(iso: Any) -> datetime | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None


def current_notices(notices: dict[int, dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The notices still to show at ``now``: a window not over, a plain notice under a day."""
    out = []
    for _id, data in sorted(notices.items()):
        until = _when(data.get("until"))
        made = _when(data.get("created_at"))
        if until is not None and until <= now:
            continue
        if until is None and made is not None and made + PLAIN_KEEP <= now:
            continue
        out.append(data)
    return out


class NoticeBanner(Widget):
    DEFAULT_CSS = """
    NoticeBanner {
        dock: top;
        height: auto;
        max-height: 3;
        background: $warning 25%;
        color: $text;
        display: none;
    }
    """

    def on_mount(self) -> None:
        ta(self).changed.subscribe(self, self._changed)
        self.set_interval(30.0, self._update)  # a window that ends goes away by itself
        self._update()

    def _changed(self, what: str) -> None:
        if what in ("notices", "all"):
            self._update()

    def _shown(self) -> list[dict[str, Any]]:
        app = ta(self)
        return current_notices(app.store.notices, app.clock())

    def _update(self) -> None:
        self.display = bool(self._shown())
        self.refresh(layout=True)

    def render(self) -> Text:
        app = ta(self)
        zone = app.local(app.clock()).tzinfo
        out = Text(no_wrap=True, overflow="ellipsis")
        for i, data in enumerate(self._shown()):
            title, body = describe(data, zone)
            if i:
                out.append("\n")
            out.append(f" ⚠ {title}", style="bold")
            out.append(f": {body}")
        return out
