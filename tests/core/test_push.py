"""The shared rules of push channels: the mask never shows more than four characters (and
never more than a third) of an Apprise URL's secret part; what Apprise cannot read is a
sentence without the URL; the push texts; the server's vault and scrub."""

from __future__ import annotations

import logging

import pytest

from tradealerts.core.push import ChannelCreate, describe_url, mask_rest, push_text


@pytest.mark.parametrize(
    ("url", "service", "masked", "host"),
    [
        ("ntfy://ntfy.sh/my-secret-topic", "ntfy", "ntfy://ntfy.sh/my-s…", "ntfy.sh"),
        ("ntfy://my-secret-topic", "ntfy", "ntfy://my-s…", None),
        ("ntfys://user:pass@ntfy.example.com/topic-x", "ntfy", "ntfys://ntfy.example.com/to…",
         "ntfy.example.com"),
        ("gotify://127.0.0.1:8080/GotifyAppToken42", "Gotify", "gotify://127.0.0.1:8080/Goti…",
         "127.0.0.1"),
        ("tgram://123456789:AAF-botToken/-1001234567", "Telegram", "tgram://1234…", None),
        ("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi", "Pushover",
         "pover://uQiR…", None),
        ("json://127.0.0.1:9000/a?token=s3cr3tvalue", "JSON", "json://127.0.0.1:9000/a?to…",
         "127.0.0.1"),
    ],
)  # fmt: skip
def test_the_mask_shows_the_service_and_host_and_little_of_the_rest(
    url: str, service: str, masked: str, host: str | None
) -> None:
    info = describe_url(url)
    assert (info.service, info.masked, info.host) == (service, masked, host)


def test_a_mask_never_shows_more_than_a_third_or_four_characters() -> None:
    assert mask_rest("") == ""
    assert mask_rest("ab") == "…"
    assert mask_rest("abcdef") == "ab…"
    assert mask_rest("x" * 100) == "xxxx…"


def test_what_apprise_cannot_read_is_refused_without_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for url in ("nonsense://my-secret-topic", "no scheme my-secret-topic", "tgram://"):
        with pytest.raises(ValueError) as exc:
            describe_url(url)
        assert "my-secret-topic" not in str(exc.value)
    describe_url("tgram://123456789:AAF-botToken/-1001234567")  # Apprise logs "Loaded … URL"
    assert "my-secret-topic" not in caplog.text and "AAF-botToken" not in caplog.text


def test_push_text_and_channel_names() -> None:
    alert = {"symbol": "EURUSD", "timeframe": "H1", "condition": "line_break", "price": 1.0912,
             "message": "EURUSD broke resistance"}  # fmt: skip
    assert push_text(alert) == ("EURUSD H1: line_break", "EURUSD broke resistance (price 1.0912)")
    assert push_text({**alert, "message": ""})[1] == "EURUSD H1: line_break at 1.0912"
    with pytest.raises(ValueError):
        ChannelCreate(name="My Phone", url="ntfy://x")
    with pytest.raises(ValueError):
        ChannelCreate(name="phone", url="ntfy://x y")


def test_the_vault_opens_only_with_its_own_key_and_scrub_masks_url_pieces() -> None:
    pytest.importorskip("cryptography")
    from tradealerts.server.push.send import scrub
    from tradealerts.server.push.vault import Vault, VaultError

    url = "ntfy://ntfy.sh/my-secret-topic"
    sealed = Vault("key one").seal(url)
    assert "my-secret-topic" not in sealed and Vault("key one").open(sealed) == url
    with pytest.raises(VaultError):
        Vault("key two").open(sealed)
    said = "Failed to send to http://ntfy.sh/my-secret-topic: 403 my-secret-topic forbidden"
    assert scrub(said, url) == "Failed to send to http://ntfy.sh/my-s…: 403 my-s… forbidden"


def test_push_texts_are_said_in_the_recipients_language() -> None:
    """A push reads in its recipient's language (issue #27); the codes in its title stay."""
    from tradealerts.core.push import push_text, test_push_text

    fired = {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "price": 1.0923}
    assert push_text(fired, "en") == (
        "EURUSD H1: greater_than",
        "EURUSD H1: greater_than at 1.0923",
    )
    assert push_text(fired, "de") == (
        "EURUSD H1: greater_than",
        "EURUSD H1: greater_than bei 1,0923",
    )
    mine = {**fired, "message": "breakout!"}
    assert push_text(mine, "es")[1] == "breakout! (precio 1,0923)"
    assert push_text(mine, "ja")[1] == "breakout!（価格 1.0923）"
    assert test_push_text("phone", "fr") == (
        "tradealerts : notification de test",
        "Ceci est un test de votre canal 'phone' : les alertes qui le nomment arrivent ici.",
    )
