"""quick_init: a frozen dataclass built faster keeps everything the generated one gives."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from tradealerts.core.frozen import quick_init


@dataclass(frozen=True, slots=True)
class Plain:
    name: str
    price: float
    note: str | None = None
    tags: tuple[str, ...] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class Quick:
    name: str
    price: float
    note: str | None = None
    tags: tuple[str, ...] = ()


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("a", 1.5), {}), (("a", 1.5, "n"), {}), ((), {"name": "a", "price": 2.0, "tags": ("x",)})],
)
def test_it_builds_what_the_generated_init_builds(args: tuple, kwargs: dict) -> None:
    quick, plain = Quick(*args, **kwargs), Plain(*args, **kwargs)
    assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
    assert repr(quick).removeprefix("Quick") == repr(plain).removeprefix("Plain")
    assert quick == Quick(*args, **kwargs) and hash(quick) == hash(Quick(*args, **kwargs))
    assert pickle.loads(pickle.dumps(quick)) == quick  # noqa: S301 (our own bytes)


def test_it_stays_frozen_and_checks_its_arguments() -> None:
    quick = Quick("a", 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.price = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="price"):
        Quick("a")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        Quick("a", 1.0, colour="red")  # type: ignore[call-arg]
    assert dataclasses.replace(quick, price=3.0) == Quick("a", 3.0)


def test_a_default_factory_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Listed:
        items: list[int] = field(default_factory=list)

    with pytest.raises(TypeError, match="generated __init__"):
        quick_init(Listed)
