"""The background subscriber: one stream loop per server that stores every alert event, then
shows it on the desktop, exactly once (see ``docs/architecture.md``, "Daemon").

    options.py   what the person chose (notifier, sound, --exec, quiet hours, --symbols)
    paths.py     the per-server folder: state.db, daemon.lock, status.json, daemon.log
    state.py     the local state database (sqlite-utils): alerts received, last event id
    notify.py    notifier back ends: desktop-notifier, notify-send, bell; the --exec hook
    loop.py      ``Daemon``: connect, store, deliver, reconnect with backoff
    control.py   the lock (one daemon per user and server), status file, start/stop
    service.py   systemd --user unit, launchd agent, Windows Startup entry
    log.py       rotating log file

Only ``cli/daemon.py`` imports this package, inside its commands.
"""

from tradealerts.daemon.options import Options
from tradealerts.daemon.paths import DaemonPaths

__all__ = ["DaemonPaths", "Options"]
