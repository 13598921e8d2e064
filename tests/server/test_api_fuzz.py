"""schemathesis over /api/openapi.json against a live server: no 5xx, every response matches
the schema, at least 500 generated cases."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from tests.server.serverkit import register_and_login, set_tier
from tests.server.stripekit import setup_price, stripe_double, stripe_settings

PER_OPERATION = 20


def test_generated_requests_never_break_the_api(make_server) -> None:
    # billing on (localstripe): without it its routes answer 503 billing_disabled by design
    with stripe_double() as double:
        srv = make_server(
            rate_limits_enabled=False,
            history_bars=60,
            **stripe_settings(double, setup_price(double)),
        )
        _fuzz(srv)


def _fuzz(srv) -> None:
    tokens = register_and_login(srv, "fuzz@example.com")
    set_tier(srv, "fuzz@example.com", "PRO")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    schema = schemathesis.openapi.from_url(f"{srv.url}/api/openapi.json")
    cases = 0
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/stream":
            continue  # never ends by design; test_stream.py covers its refusals and frames
        operations += 1

        @settings(
            max_examples=PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:
            nonlocal cases
            response = case.call(base_url=srv.url, headers=auth, timeout=10)
            cases += 1
            case.validate_response(
                response, checks=(not_a_server_error, response_schema_conformance)
            )

        run()
    assert operations >= 30
    assert cases >= 500, cases
