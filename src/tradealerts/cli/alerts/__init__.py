"""``tradealerts alerts …``: the group and its commands, one module per kind of command.

``common`` holds the group (``app``) and what several commands share; ``listing`` (list,
show), ``edit`` (create, update, clone), ``bulk`` (delete, pause, resume), ``history`` and
``code`` (export, apply) register their commands on it when imported here; ``backtest``
(``alerts test``, ``apply --test``) loads only when it runs. Imports point one way: this
module → a command module → ``common``.
"""

from tradealerts.cli.alerts import bulk, code, edit, history, listing
from tradealerts.cli.alerts.common import app

__all__ = ["app", "bulk", "code", "edit", "history", "listing"]
