"""settings, account, notifications, support, docs and the commands still to come, through the
real command against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyotp
from tests.cli.conftest import Cli
from tests.server.serverkit import set_tier

from tradealerts.core.schemas import THEMES


def test_settings_show_and_set_validated_locally(user: Cli) -> None:
    before = user.json("settings", "show")
    theme = next(t for t in THEMES if t != before["theme"])
    assert theme in user.ok("settings", "set", "theme", theme)
    user.ok("settings", "set", "marketing-opt-in", "yes")
    user.ok("settings", "set", "display_name", "Ana Trader")
    after = user.json("settings", "show")
    assert after["theme"] == theme and after["marketing_opt_in"] is True
    assert after["display_name"] == "Ana Trader"
    assert "Ana Trader" in user.ok("settings", "show")
    r = user.run("settings", "set", "theme", "neon")
    assert r.returncode == 2 and "unknown theme" in r.stderr  # refused before sending
    r = user.run("settings", "set", "timezone", "Mars/Olympus")
    assert r.returncode == 2 and "time zone" in r.stderr
    r = user.run("settings", "set", "colour", "red")
    assert r.returncode == 2 and "Unknown setting" in r.stderr
    assert user.json("settings", "show")["theme"] == theme


def test_notifications_list_read_delete(user: Cli) -> None:
    page = user.json("notifications", "list")  # verifying the email left one
    assert page["total"] >= 1 and page["unread"] >= 1
    first = page["items"][0]
    assert first["title"] in user.ok("notifications", "list")
    user.ok("notifications", "read", str(first["id"]))
    assert user.json("notifications", "list")["unread"] == page["unread"] - 1
    user.ok("notifications", "read", "--all")
    assert user.json("notifications", "list")["unread"] == 0
    user.ok("notifications", "delete", str(first["id"]))
    assert user.json("notifications", "list")["total"] == page["total"] - 1
    r = user.run("notifications", "delete", str(first["id"]))
    assert r.returncode == 1 and "no notification" in r.stderr


def test_support_sends_a_ticket_to_the_owner(user: Cli) -> None:
    ticket = user.json("support", "My alerts do not fire on XAUUSD\nplease help")
    assert ticket["subject"] == "My alerts do not fire on XAUUSD" and ticket["id"] > 0
    mail = user.server.inbox.wait_for("owner@example.com")[-1]
    assert "XAUUSD" in mail.get_payload(decode=True).decode()


def test_account_export_password_and_delete(user: Cli, tmp_path) -> None:
    data = user.json("account", "export")
    assert data["account"]["email"] == user.email and "password_hash" not in data["account"]
    out = tmp_path / "me.json"
    user.ok("account", "export", "--output", str(out))
    assert json.loads(out.read_text())["account"]["id"] == data["account"]["id"]
    new = "another horse battery staple"
    user.ok("account", "password", "--password-stdin", input=f"{user.password}\n{new}\n")
    r = user.run("account", "password", "--password-stdin", input=f"{user.password}\n{new}\n")
    assert r.returncode == 1 and "wrong" in r.stderr
    user.password = new
    user.ok("logout")
    user.login()
    r = user.run("account", "delete", "--yes", "--password-stdin", input="nope nope nope\n")
    assert r.returncode == 1
    user.ok("account", "delete", "--yes", "--password-stdin", input=f"{new}\n")
    r = user.run("login", "--email", user.email, "--password-stdin", input=f"{new}\n")
    assert r.returncode == 3
    assert not (user.home / "credentials.json").exists()


def test_account_email_change_with_the_mailed_code(user: Cli) -> None:
    new = "moved-" + user.email
    out = user.ok("account", "email", new, "--password-stdin", input=user.password + "\n")
    assert new in out
    code = user.server.inbox.code_for(new)
    assert new in user.ok("account", "email", new, "--code", code)
    assert user.json("whoami")["email"] == new  # the stored login follows the new address


def _code(user: Cli, secret: str) -> str:
    """The authenticator's code at the server's (test-controlled) time."""
    return str(pyotp.TOTP(secret).at(user.server.clock()))


def test_two_factor_enable_login_and_disable(user: Cli) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradealerts", "account", "2fa", "enable"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=user.env(),
    )
    assert proc.stdout is not None and proc.stdin is not None
    secret = proc.stdout.readline().split(":", 1)[1].strip()
    assert proc.stdout.readline().startswith("URI:")
    out, errs = proc.communicate(_code(user, secret) + "\n", timeout=30)
    assert proc.returncode == 0, errs
    assert "on" in out
    user.ok("logout")
    r = user.run("login", "--email", user.email, "--password-stdin", input=user.password + "\n")
    assert r.returncode == 3 and "two-factor" in r.stderr
    user.server.clock.advance(seconds=30)  # each code is accepted once: the next one
    user.ok("login", "--email", user.email, "--password-stdin", "--otp",
            _code(user, secret), input=user.password + "\n")  # fmt: skip
    assert user.json("whoami")["totp_enabled"] is True
    user.server.clock.advance(seconds=30)
    user.ok("account", "2fa", "disable", "--code", _code(user, secret),
            "--password-stdin", input=user.password + "\n")  # fmt: skip
    assert user.json("whoami")["totp_enabled"] is False


def test_docs_prints_the_address(person: Cli) -> None:
    env = {k: v for k, v in person.env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["BROWSER"] = "true"  # a "browser" that accepts any URL
    r = subprocess.run([sys.executable, "-m", "tradealerts", "docs"], capture_output=True,
                       text=True, env=env, check=False)  # fmt: skip
    assert r.returncode == 0 and "Opened https://" in r.stdout and "user-guide" in r.stdout
    env["BROWSER"] = os.devnull  # cannot run: no browser
    r = subprocess.run([sys.executable, "-m", "tradealerts", "docs"], capture_output=True,
                       text=True, env=env, check=False)  # fmt: skip
    assert r.returncode == 0 and "in a browser" in r.stdout and "user-guide" in r.stdout


def test_plan_and_the_commands_still_to_come(user: Cli) -> None:
    plan = user.json("plan")
    assert plan["tier"] == "FREE" and plan["limits"]["active_alerts"] == 5
    assert plan["plans"] is None  # this server sells nothing: billing is off
    assert "Upgrades are not open on this server yet" in user.ok("plan")
    for args in (["upgrade", "--no-browser"], ["billing"]):  # billing off: exit 1, one line
        r = user.run(*args)
        assert r.returncode == 1 and "Upgrades are not open on this server" in r.stderr, r.stderr
        assert "STRIPE" not in r.stderr  # the owner's settings are not the subscriber's business
        assert r.stderr.count("\n") == 1
    r = user.run("-v", "upgrade", "--no-browser")  # the server's own sentence, for the curious
    assert r.returncode == 1 and "TRADEALERTS_STRIPE_SECRET_KEY" in r.stderr, r.stderr


def test_pro_is_not_offered_pro(user: Cli) -> None:
    set_tier(user.server, user.email, "PRO")
    out = user.ok("plan")
    assert "PRO" in out and "Upgrade" not in out and "not open" not in out, out
    r = user.run("upgrade", "--no-browser")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "You are on PRO already" in r.stdout and not r.stderr
