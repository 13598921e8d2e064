"""/api/watchlist: the caller's (symbol, timeframe) items, limited by tier."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tradealerts.core.messages import N_, _
from tradealerts.core.schemas import WatchlistCreate, WatchlistItemPublic
from tradealerts.core.tiers import TIERS, Tier, check_pair
from tradealerts.server.api.deps import ClockDep, CurrentUser, DataQuota, RowId, SessionDep
from tradealerts.server.db.models import WatchlistItem
from tradealerts.server.errors import Conflict, NotFound, plan_full

#: the refusal past the tier's watchlist items (``plan_full`` fills it in)
_FULL = N_("Your {tier} plan allows {limit} watchlist items{hint}.")

router = APIRouter(prefix="/watchlist", tags=["watchlist"])


def _public(item: WatchlistItem) -> WatchlistItemPublic:
    return WatchlistItemPublic(
        id=item.id, symbol=item.symbol, timeframe=item.timeframe, created_at=item.created_at
    )


@router.get("", response_model=list[WatchlistItemPublic])
def list_watchlist(user: DataQuota, s: SessionDep) -> list[WatchlistItemPublic]:
    """The caller's watchlist, oldest first."""
    rows = s.scalars(
        select(WatchlistItem).where(WatchlistItem.user_id == user.id).order_by(WatchlistItem.id)
    ).all()
    return [_public(r) for r in rows]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WatchlistItemPublic,
    responses={
        201: {
            "description": "the new item",
            "links": {
                "remove_watchlist": {
                    "operationId": "remove_watchlist",
                    "parameters": {"item_id": "$response.body#/id"},
                }
            },
        }
    },
)
def add_watchlist(
    body: WatchlistCreate, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> WatchlistItemPublic:
    """Add a pair the caller's tier allows; at most 5 (FREE) or 50 (PRO) items."""
    tier = Tier(user.tier)
    sym, tf = check_pair(tier, body.symbol, body.timeframe)
    count = s.scalar(select(func.count()).where(WatchlistItem.user_id == user.id)) or 0
    if count >= TIERS[tier].watchlist_items:
        raise plan_full(tier, "watchlist_items", _FULL, code="watchlist_full")
    item = WatchlistItem(user_id=user.id, symbol=sym, timeframe=tf.value, created_at=clock())
    s.add(item)
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
        raise Conflict(
            _("{sym} {tf} is already on your watchlist.", sym=sym, tf=tf), code="duplicate"
        ) from None
    return _public(item)


@router.delete("/{item_id}", status_code=204)
def remove_watchlist(item_id: RowId, user: CurrentUser, s: SessionDep) -> Response:
    """Remove one of the caller's items."""
    item = s.get(WatchlistItem, item_id)
    if item is None or item.user_id != user.id:
        raise NotFound(_("You have no watchlist item {item_id}.", item_id=item_id))
    s.delete(item)
    s.commit()
    return Response(status_code=204)
