"""A bar chart of counts or amounts per label: the owner's dashboard's figures."""

from __future__ import annotations

from tradealerts.client.chart._plotext import ordered_dedupe

__all__ = ["bar_chart"]


def bar_chart(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    width: int = 80,
    height: int = 12,
    colour: bool = True,
    theme: str = "dark",
) -> str:
    """A bar chart of counts or amounts per label (days, months, hours) as text: the owner's
    dashboard draws its sign-ups, fires, revenue and requests with it. Labels are thinned to
    what fits under the bars, so plotext never drops overlapping ones."""
    import plotext as plt

    ordered_dedupe()
    plt.clear_figure()
    plt.plotsize(max(20, width), max(6, height))
    plt.theme(theme if colour else "clear")
    plt.title(title)
    if not labels:
        return str(plt.build()).rstrip("\n")
    xs = list(range(len(labels)))
    plt.bar(xs, values, width=0.6, color="cyan" if colour else None)
    top = max(max(values, default=0), 1)
    if all(float(v).is_integer() for v in values):  # whole counts: whole ticks, not 0.33 steps
        step = -(-int(top) // 5)
        top = step * -(-int(top) // step)
        plt.yticks(list(range(0, int(top) + 1, step)))
    plt.ylim(0, top)  # counts and amounts: never a negative axis, even when all are 0
    room = max(1, (width - 10) // (max(len(s) for s in labels) + 2))
    step = max(1, -(-len(labels) // room))
    ticks = xs[::-1][::step][::-1]  # the newest always labelled
    plt.xticks(ticks, [labels[i] for i in ticks])
    return str(plt.build()).rstrip("\n")
