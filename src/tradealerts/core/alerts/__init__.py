"""Alerts, the pure part: conditions, trigger rules, messages and the API's wire schemas.

The matching engine that applies these rules to the feed lives in ``tradealerts.server.alerts``.
This package's public face is its modules' own: each names what it exports (``__all__``)
once, and every such name is importable from here too.
"""

from tradealerts.core.alerts import conditions, limits, messages, rules, schemas
from tradealerts.core.alerts.conditions import *  # noqa: F403
from tradealerts.core.alerts.limits import *  # noqa: F403
from tradealerts.core.alerts.messages import *  # noqa: F403
from tradealerts.core.alerts.rules import *  # noqa: F403
from tradealerts.core.alerts.schemas import *  # noqa: F403

__all__: list[str] = []
__all__ += conditions.__all__
__all__ += limits.__all__
__all__ += messages.__all__
__all__ += rules.__all__
__all__ += schemas.__all__
