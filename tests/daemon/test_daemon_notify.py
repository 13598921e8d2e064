"""``tradealerts daemon run --notify URL`` (repeatable) against a real server: each alert is
also pushed by real Apprise to ntfy- and ``json://``-speaking receivers on loopback; a URL
that cannot be reached is logged masked and holds up neither the others nor the desktop
notice; no URL's secret is ever in the daemon's log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.daemon.daemonkit import DaemonProc, fire, new_user
from tests.server.pushkit import PushReceiver
from tests.server.serverkit import Running, free_port, wait_until

from tradealerts.core.i18n import LANGUAGES, translations


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver()
    yield r
    r.close()


def test_each_alert_is_pushed_to_every_notify_url(
    server: Running, tmp_path: Path, email: str, daemons: list[DaemonProc], receiver: PushReceiver
) -> None:
    d = new_user(server, tmp_path, email)
    daemons.append(d)
    dead = free_port()  # nobody listens: the push fails, the rest go on
    d.start(
        "--notify", f"ntfy://127.0.0.1:{receiver.port}/my-secret-topic",
        "--notify", f"gotify://127.0.0.1:{dead}/GotifyAppToken42",
        "--notify", f"json://127.0.0.1:{receiver.port}/json-secret-path",
    )  # fmt: skip
    d.wait_connected()
    event = fire(server, email, message="EURUSD H1 crossed up 1.09 at 1.0912")
    got = receiver.wait(2)
    assert d.wait_deliveries(1)[0]["id"] == event  # the desktop side (exec hook) as well
    by_path = {a.path: a for a in got}
    assert by_path["/"].body["topic"] == "my-secret-topic"
    assert by_path["/"].body["title"] == "EURUSD H1: crossing_up"
    assert by_path["/json-secret-path"].body["message"].startswith("EURUSD H1 crossed up 1.09")
    pushed = f"pushed to ntfy://127.0.0.1:{receiver.port}/my-s…"  # logged once it answered
    wait_until(lambda: pushed in d.log_text(), 20, "the push logged")
    wait_until(lambda: "push to gotify://" in d.log_text(), 20, "the failed push logged")
    log = d.log_text()
    for secret in ("my-secret-topic", "GotifyAppToken42", "json-secret-path"):
        assert secret not in log, secret
    assert d.terminate() == 0


def test_a_url_apprise_cannot_read_is_a_usage_error(
    server: Running, tmp_path: Path, email: str
) -> None:
    d = new_user(server, tmp_path, email)
    r = d.cli("daemon", "run", "--notify", "nonsense://my-secret-topic")
    assert r.returncode == 2 and "--notify nonsense://" in r.stderr, r
    assert "my-secret-topic" not in r.stderr + r.stdout


NO_SCHEME = (
    "--notify {url}: this is not an Apprise URL: it needs a scheme, like ntfy://ntfy.sh/TOPIC."
)
UNREADABLE = (
    "--notify {url}: Apprise cannot send to this URL ({scheme}://…); each service's form is at "
    "https://github.com/caronc/apprise/wiki."
)


def test_the_notify_usage_error_is_said_in_the_users_language(
    server: Running, tmp_path: Path, email: str
) -> None:
    """Both refusals of a ``--notify`` value, in each of the seven languages (the locale's,
    before a language is chosen), naming the value masked: a bare value, which may be the
    secret itself (an ntfy topic), not at all."""
    d = new_user(server, tmp_path, email)
    for language in LANGUAGES:
        said = translations(language, "client")
        cases = [
            ("nonsense://my-secret-topic", said.gettext(UNREADABLE), "nonsense://…"),
            ("my-secret-topic", said.gettext(NO_SCHEME), "…"),
        ]
        if language != "en":
            assert said.gettext(UNREADABLE) != UNREADABLE, language
            assert said.gettext(NO_SCHEME) != NO_SCHEME, language
        for value, sentence, masked in cases:
            r = d.cli("daemon", "run", "--notify", value, LANG=f"{language}.UTF-8")
            assert r.returncode == 2, r
            expected = sentence.format(url=masked, scheme="nonsense")
            # (a console may wrap it: compared without the white space)
            assert "".join(expected.split()) in "".join(r.stderr.split()), (language, r.stderr)
            assert "my-secret-topic" not in r.stderr + r.stdout
