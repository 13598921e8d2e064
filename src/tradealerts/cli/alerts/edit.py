"""alerts create|update|clone: an alert's definition from the command line, checked here with
the server's own rules (``core.alerts``) before anything is sent. ``alerts test`` builds the
alert it replays with ``build_alert`` too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from tradealerts.cli.alerts.common import (
    FrequencyOpt,
    IdArg,
    JsonOpt,
    SourceOpt,
    app,
    parse_condition,
    parse_expiry,
    problem,
    shape_options,
    show_done,
    with_options,
)
from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.negatives import NegativeNumbers
from tradealerts.client.lang import _

NotifyOpt = Annotated[
    str | None,
    typer.Option(
        "--notify",
        help="Also push to these channels of yours, comma-separated: phone,team "
        '(see: tradealerts channels list); "" for none.',
    ),
]


def _values(condition: Any, values: list[str]) -> dict[str, Any]:
    from tradealerts.core.alerts.conditions import NUMBER_VALUES, OPTIONAL_VALUES, REQUIRED_VALUES

    names = REQUIRED_VALUES[condition] + OPTIONAL_VALUES[condition]
    if len(values) > len(names):
        takes = " ".join(n.upper() for n in names) or _("no values")
        raise UsageProblem(
            _("{condition} takes {takes}; got {count} values: {values}.").format(
                condition=condition.value, takes=takes, count=len(values), values=" ".join(values)
            )
        )
    out: dict[str, Any] = {}
    for name, text in zip(names, values, strict=False):
        out[name] = _number(name, NUMBER_VALUES[name], text) if name in NUMBER_VALUES else text
    return out


def _number(name: str, kind: type[int] | type[float], text: str) -> float | int:
    try:
        value: float | int = kind(text)
    except ValueError:
        if kind is int:
            said = _("{name}: expected a whole number, got {text}.")
        else:
            said = _("{name}: expected a number, got {text}.")
        raise UsageProblem(said.format(name=name.upper(), text=repr(text))) from None
    return value


def build_alert(
    symbol: str,
    timeframe: str,
    condition: str,
    values: list[str] | None,
    options: dict[str, Any],
    *,
    frequency: str = "once",
    expires: str | None = None,
    message: str | None = None,
    source: str = "bid",
    email: bool = False,
    webhook: str | None = None,
    webhook_format: str | None = None,
    notify: str | None = None,
    verb: str = "create",
) -> Any:
    """The checked ``AlertCreate`` of ``alerts create``'s arguments (``alerts test`` takes the
    same ones): a typo is a ``UsageProblem`` naming the field, before anything is sent.
    ``verb``: the command the "needs LEVEL" hint shows."""
    from pydantic import ValidationError

    from tradealerts.cli.market import pair
    from tradealerts.core.alerts.conditions import REQUIRED_VALUES
    from tradealerts.core.alerts.schemas import channel_names, validate_alert

    sym, tf = pair(symbol, timeframe)
    cond = parse_condition(condition)
    now = datetime.now(UTC)
    data: dict[str, Any] = {"symbol": sym, "timeframe": tf, "condition": cond.value}
    data.update(_values(cond, values or []))
    for key, value in options.items():
        if value is not None:
            data[key] = value
    needs = REQUIRED_VALUES[cond]
    if any(name not in data for name in needs):
        shape = " ".join(n.upper() for n in needs)
        raise UsageProblem(
            f"{cond.value} needs {shape}: tradealerts alerts {verb} {sym} {tf} {cond.value} {shape}"
        )
    data.update(frequency=frequency, price_source=source)
    if expires:
        data["expires_at"] = parse_expiry(expires, now)
    if message is not None:
        data["message"] = message
    data["channels"] = {"email": email, "webhook_url": webhook}
    if webhook_format is not None:
        if webhook is None:  # stored, it would shape nothing: say so rather than keep it
            raise UsageProblem(
                "--webhook-format shapes a webhook's body: give the webhook too, "
                f"e.g. --webhook https://example.com/hook --webhook-format {webhook_format}"
            )
        data["channels"]["webhook_format"] = webhook_format
    if notify is not None:
        data["channels"]["notify"] = channel_names(notify)
    try:  # the server checks again; this catches typos before anything is sent
        return validate_alert(data, now=now, allow_insecure_loopback=True)
    except ValidationError as exc:
        raise problem(exc, data) from None


@app.command("create", cls=NegativeNumbers)
@with_options("shape", shape_options)
def create(
    symbol: Annotated[str, typer.Argument(help="EURUSD, xauusd … (any case).")],
    timeframe: Annotated[str, typer.Argument(help="M5 … D1 (any case).")],
    condition: Annotated[
        str, typer.Argument(help="crossing_up, entering_channel, moving_up, new_fractal …")
    ],
    values: Annotated[
        list[str] | None,
        typer.Argument(
            help="The condition's values in order: LEVEL; LOWER UPPER; AMOUNT BARS; "
            "DISTANCE; then SIDE and LINE_ID where they apply."
        ),
    ] = None,
    frequency: FrequencyOpt = "once",
    expires: Annotated[
        str | None, typer.Option(help="30m, 12h, 7d, 2w, or an ISO date/time.")
    ] = None,
    message: Annotated[
        str | None, typer.Option(help="Your text; {{symbol}} {{price}} {{level}} … fill in.")
    ] = None,
    source: SourceOpt = "bid",
    email: Annotated[bool, typer.Option("--email", help="Also mail me when it fires.")] = False,
    webhook: Annotated[
        str | None, typer.Option(help="Also POST to this https URL when it fires.")
    ] = None,
    *,
    shape: dict[str, Any],
    name: Annotated[
        str | None, typer.Option(help="A name unique among your alerts (default: made up).")
    ] = None,
    webhook_format: Annotated[
        str | None, typer.Option(help="The webhook body: json, discord, slack or telegram.")
    ] = None,
    notify: NotifyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an alert, e.g.: alerts create EURUSD H1 crossing_up 1.09 --expires 7d --email"""
    from tradealerts.client import endpoints

    alert = build_alert(
        symbol, timeframe, condition, values,
        {**shape, "name": name},
        frequency=frequency, expires=expires, message=message, source=source, email=email,
        webhook=webhook, webhook_format=webhook_format, notify=notify,
    )  # fmt: skip
    with open_client() as c:
        show_done(c.run(endpoints.alert_create(alert)), json_out, "created")


@app.command("update", cls=NegativeNumbers)
def update(
    alert_id: IdArg,
    level: Annotated[float | None, typer.Option()] = None,
    lower: Annotated[float | None, typer.Option()] = None,
    upper: Annotated[float | None, typer.Option()] = None,
    amount: Annotated[float | None, typer.Option()] = None,
    bars: Annotated[int | None, typer.Option()] = None,
    condition: Annotated[str | None, typer.Option(help="A new condition.")] = None,
    frequency: Annotated[str | None, typer.Option()] = None,
    expires: Annotated[str | None, typer.Option(help="30m, 7d, or an ISO date/time.")] = None,
    message: Annotated[str | None, typer.Option()] = None,
    source: Annotated[str | None, typer.Option(help="bid or ask.")] = None,
    side: Annotated[str | None, typer.Option()] = None,
    line_id: Annotated[str | None, typer.Option()] = None,
    distance: Annotated[float | None, typer.Option()] = None,
    buffer: Annotated[float | None, typer.Option()] = None,
    confirm_bars: Annotated[int | None, typer.Option()] = None,
    cooldown: Annotated[str | None, typer.Option(help="30m, 2h, 1d or seconds.")] = None,
    max_fires: Annotated[int | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option(help="A new name (unique among yours).")] = None,
    notify: NotifyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change an alert: only the options you give change."""
    from pydantic import ValidationError

    from tradealerts.client import endpoints
    from tradealerts.core.alerts.schemas import AlertUpdate, channel_names

    now = datetime.now(UTC)
    patch: dict[str, Any] = {
        k: v
        for k, v in {
            "level": level, "lower": lower, "upper": upper, "amount": amount, "bars": bars,
            "frequency": frequency, "message": message, "price_source": source, "side": side,
            "line_id": line_id, "distance": distance, "buffer": buffer,
            "confirm_bars": confirm_bars, "cooldown": cooldown, "max_fires": max_fires,
            "name": name,
        }.items()
        if v is not None
    }  # fmt: skip
    if condition is not None:
        patch["condition"] = parse_condition(condition).value
    if expires is not None:
        patch["expires_at"] = parse_expiry(expires, now)
    if not patch and notify is None:
        raise UsageProblem(_("Nothing to change: give at least one option (see --help)."))
    with open_client() as c:
        if notify is not None:  # the other channels as they are: the channels go as a whole
            current = c.run(endpoints.alert(alert_id)).channels
            named = channel_names(notify)
            patch["channels"] = {**current.model_dump(mode="json"), "notify": named}
        try:
            change = AlertUpdate.model_validate(patch, context={"now": now})
        except ValidationError as exc:
            raise problem(exc) from None
        show_done(c.run(endpoints.alert_update(alert_id, change)), json_out, "updated")


@app.command("clone", cls=NegativeNumbers)
def clone(
    alert_id: IdArg,
    symbol: Annotated[str | None, typer.Option(help="The copy's symbol.")] = None,
    timeframe: Annotated[str | None, typer.Option(help="The copy's timeframe.")] = None,
    name: Annotated[str | None, typer.Option(help="The copy's name (default: made up).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy an alert (onto another symbol, say): alerts clone 12 --symbol GBPUSD"""
    from pydantic import ValidationError

    from tradealerts.client import endpoints
    from tradealerts.core.alerts.plans import AlertClone

    data = {"symbol": symbol, "timeframe": timeframe, "name": name}
    try:
        change = AlertClone.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise problem(exc) from None
    with open_client() as c:
        show_done(c.run(endpoints.alert_clone(alert_id, change)), json_out, "created")
