"""The owner's ``tradealerts-server billing setup`` against localstripe: idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.server.stripekit import SECRET_KEY, stripe_double

EXE = Path(sys.executable).parent / "tradealerts-server"


def _run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    full.update(TRADEALERTS_HOME=str(home), **env)
    return subprocess.run([str(EXE), "billing", "setup", *args], capture_output=True,
                          text=True, env=full, timeout=60, check=False)  # fmt: skip


def test_setup_creates_then_finds_the_product_and_price(tmp_path: Path) -> None:
    r = _run(tmp_path)
    assert r.returncode == 1 and "TRADEALERTS_STRIPE_SECRET_KEY" in r.stderr
    with stripe_double() as double:
        env = {
            "TRADEALERTS_STRIPE_SECRET_KEY": SECRET_KEY,
            "TRADEALERTS_STRIPE_API_BASE": double.ls_url,  # localstripe itself: no stand-in
            "TRADEALERTS_PUBLIC_URL": "https://alerts.example.com",
        }
        r = _run(tmp_path, **env)
        assert r.returncode == 0, r.stderr
        assert "product tradealerts_pro: created" in r.stdout
        assert "price   tradealerts_pro_monthly: created (2900 usd minor units / month)" in r.stdout
        assert "TRADEALERTS_STRIPE_PRICE_ID=tradealerts_pro_monthly" in r.stdout
        assert "https://alerts.example.com/api/webhooks/stripe" in r.stdout
        assert "invoice.payment_failed" in r.stdout and SECRET_KEY not in r.stdout + r.stderr
        again = json.loads(_run(tmp_path, "--json", **env).stdout)
        assert again["product_created"] is False and again["price_created"] is False
        assert again["price_id"] == "tradealerts_pro_monthly" and again["amount"] == 2900
        plans = double.http.get("/v1/plans").json()["data"]
        assert [p["id"] for p in plans] == ["tradealerts_pro_monthly"]  # made once
        r = _run(tmp_path, **{**env, "TRADEALERTS_STRIPE_SECRET_KEY": "nope"})
        assert r.returncode == 1 and "Stripe refused" in r.stderr and "nope" not in r.stderr
