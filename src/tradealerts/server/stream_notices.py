"""The stream's side of maintenance notices (issue #29): the current notices for a stream
that opens, and the ``reconnect`` frame whose ``retry:`` says how long maintenance lasts."""

from __future__ import annotations

from typing import Any

from tradealerts.core.messages import _
from tradealerts.server.events import sse_frame

__all__ = ["notice_frames", "reconnect_frame"]


def notice_frames(state: Any) -> list[str]:
    """``notice`` frames of the current notices (none when the app has no board)."""
    board = getattr(state, "notices", None)
    return board.frames() if board is not None else []


def reconnect_frame(state: Any, last: int, lang: str | None = None) -> str:
    """The server is stopping. Inside an announced window (``admin announce --at --duration``)
    the frame carries ``retry:`` = the milliseconds left in it, and says so in its data
    (``retry_ms``, ``until``, ``notice``); otherwise clients keep their usual delay."""
    data: dict[str, Any] = {
        "message": _("The server is restarting; reconnect with Last-Event-ID.").into(lang),
        "last_event_id": last,
    }
    board = getattr(state, "notices", None)
    window = board.reconnect_delay() if board is not None else None
    if window is None:
        return sse_frame("reconnect", data)
    ms, notice = window
    data.update(
        message=_(
            "The server is down for maintenance until {until}; "
            "reconnect with Last-Event-ID after the retry: delay.",
            until=notice["until"],
        ).into(lang),
        retry_ms=ms,
        until=notice["until"],
        notice=notice["id"],
    )
    return f"retry: {ms}\n" + sse_frame("reconnect", data)
