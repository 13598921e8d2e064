"""The async client (for the TUI and the daemon) against a real server: the same flows as the
CLI's sync client — login, typed calls, refresh, errors with exit codes, the stream."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from tests.server.serverkit import PW, Running, register_and_login

from tradealerts.client import ApiError, AsyncClient, Client, NotLoggedIn, endpoints
from tradealerts.client.config import ClientConfig
from tradealerts.client.credentials import CredentialStore


def _store(server: Running, tmp_path: Path, warnings: list[str]) -> CredentialStore:
    return CredentialStore(
        server.url,
        config=ClientConfig(tmp_path / "client.json"),
        file=tmp_path / "credentials.json",
        warn=warnings.append,
        backend=None,
    )


async def test_async_client_login_calls_errors_stream_logout(server: Running, tmp_path) -> None:
    email = "async@example.com"
    register_and_login(server, email)
    warnings: list[str] = []
    store = _store(server, tmp_path, warnings)
    async with AsyncClient(server.url, store=store) as c:
        await c.login(email, PW)
        assert len(warnings) == 1 and "credentials.json" in warnings[0]
        assert stat.S_IMODE((tmp_path / "credentials.json").stat().st_mode) == 0o600
        me = await c.run(endpoints.me())
        assert me.email == email and me.tier == "FREE"
        syms = await c.run(endpoints.symbols())
        assert c.rate_limit is not None and c.rate_limit.limit == 60
        assert c.rate_limit.remaining == 59 and syms.tier == "FREE"
        with pytest.raises(ApiError) as info:
            await c.run(endpoints.indicators("GBPUSD", "H1"))
        assert info.value.status == 403 and info.value.exit_code == 4
        assert info.value.required_tier == "PRO"
        # a refused access token is refreshed once and the call resent
        creds = c.credentials
        assert creds is not None
        old_refresh = creds.refresh_token
        creds.access_token = "refused"
        assert (await c.run(endpoints.me())).email == email
        assert c.credentials is not None and c.credentials.refresh_token != old_refresh
        stored = json.loads((tmp_path / "credentials.json").read_text())
        assert json.loads(stored[f"{server.url} {email}"])["refresh_token"] != old_refresh
        events = c.events(["EURUSD:H1"])
        first = await anext(events)
        assert first.event in ("price", "bar") and first.data["symbol"] == "EURUSD"
        await events.aclose()
        assert await c.logout() is True
        assert len(warnings) == 1  # once only
    assert not (tmp_path / "credentials.json").exists()
    assert ClientConfig(tmp_path / "client.json").current_email(server.url) is None


def test_sync_and_async_share_one_not_logged_in(server: Running, tmp_path) -> None:
    with Client(server.url, store=_store(server, tmp_path, [])) as c:
        with pytest.raises(NotLoggedIn) as info:
            c.run(endpoints.me())
        assert info.value.exit_code == 3 and "tradealerts login" in info.value.message


def test_tls_is_verified_against_certifi_and_a_plain_http_server_trusts_no_ca() -> None:
    import ssl

    from tradealerts.client.api import _verify

    assert _verify("https://alerts.example.com") is True  # httpx's default: certifi's bundle
    plain = _verify("http://127.0.0.1:8000")
    assert isinstance(plain, ssl.SSLContext)
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.get_ca_certs() == []  # never used; if it were, it would refuse every peer
