"""The owner's command, ``tradealerts-server``: the Typer app and where each command lives.

One module per command group, each a thin layer over the server's own functions:

- ``serve``: ``serve``, ``demo``, ``prices``, and the scaled-out processes (``engine``,
  ``serve --workers``)
- ``status``: ``status``, ``admin incidents``, ``admin quarantine`` (is the service well)
- ``admin``: the accounts (``admin create-user|users|set-tier|set-role|disable|
  delete-user|audit``); ``figures``: the owner's figures (``admin stats|revenue|usage|
  errors``, drawn from ``core.admin_figures`` like the TUI's Admin screen); ``notices``:
  ``admin announce``; ``remote``: ``--server``, the admin commands against a running server
- ``billing``: ``billing setup``; ``db``: ``db upgrade|current``; ``lines``: the owner's
  MT5 indicator (``ingest-token create|list|revoke``, ``lines compare``)
- ``common``: what they share (errors, settings, the database, tables, JSON)

The command modules import ``common`` (and ``remote``), never this module or each other, so
the package has no import circle; this module registers every command, in the order
``--help`` lists them. Heavy imports live inside the commands (start-up cost).
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from tradealerts.server.cli import admin, billing, db, figures, lines, notices, serve, status

__all__ = ["app", "main"]

app = typer.Typer(
    name="tradealerts-server",
    help="Serve market data, fractal indicators and price alerts from one MT5 terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Serve market data, fractal indicators and price alerts from one MT5 terminal."""


def _group(name: str, about: str) -> typer.Typer:
    group = typer.Typer(help=about, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


_TOP: tuple[Callable[..., None], ...] = (serve.serve, serve.demo, serve.prices, serve.engine,
                                         status.status)  # fmt: skip
for command in _TOP:
    app.command()(command)

db_app = _group("db", "Database schema.")
db_app.command("upgrade")(db.db_upgrade)
db_app.command("current")(db.db_current)

admin_app = _group("admin", "Accounts, for the owner.")
_ADMIN: tuple[tuple[str, Callable[..., None]], ...] = (
    ("announce", notices.admin_announce),  # maintenance notices (issue #29)
    ("create-user", admin.admin_create_user),
    ("stats", figures.admin_stats),
    ("revenue", figures.admin_revenue),
    ("usage", figures.admin_usage),
    ("errors", figures.admin_errors),
    ("quarantine", status.admin_quarantine),
    ("users", admin.admin_users),
    ("set-tier", admin.admin_set_tier),
    ("set-role", admin.admin_set_role),
    ("disable", admin.admin_disable),
    ("delete-user", admin.admin_delete_user),
    ("audit", admin.admin_audit),
    ("incidents", status.admin_incidents),  # the owner's alerts (issue #29)
)
for name, command in _ADMIN:
    admin_app.command(name)(command)

billing_app = _group("billing", "Selling PRO through Stripe.")
billing_app.command("setup")(billing.billing_setup)

# the owner's MT5 indicator (issue #16)
ingest_token_app = _group("ingest-token", "Tokens for the MT5 bridge EA (owner only).")
ingest_token_app.command("create")(lines.ingest_token_create)
ingest_token_app.command("list")(lines.ingest_token_list)
ingest_token_app.command("revoke")(lines.ingest_token_revoke)
lines_app = _group("lines", "The owner's indicator lines.")
lines_app.command("compare")(lines.lines_compare)


def main() -> None:
    """Console-script entry point."""
    app()
