"""Server-rendered SVG column charts (no JavaScript, no CDN): the layout of a time series, drawn by the shared
template ``_svg_columns.html``."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone


@dataclass(frozen=True)
class SeriesPoint:
    """One column: its time, its value (None when there was nothing to measure) and an extra count."""

    at: datetime
    value: float | None
    extra: int = 0


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    title: str
    css: str = ""


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Column]
    max_label: str
    first_label: str
    last_label: str
    empty: bool
    ticks: list[tuple[float, str]]


def column_chart(
    points: list[SeriesPoint],
    *,
    width: int = 600,
    height: int = 120,
    fixed_max: float | None = None,
    fmt: str = "{:g}",
    time_fmt: str = "%H:%M",
    unit: str = "",
    describe=None,
    tick_every: int = 0,
) -> Chart:
    """Columns for a time series (a None value leaves a gap); `describe(point, when)` gives a column's title
    when the default "HH:MM: value" says too little; `tick_every` labels every n-th column under the axis."""
    values = [p.value for p in points if p.value is not None]
    top = fixed_max or max(values, default=0) or 1
    step = width / max(len(points), 1)
    bars = []
    for i, point in enumerate(points):
        when = timezone.localtime(point.at).strftime(time_fmt)
        if point.value is None:
            bars.append(Column(i * step, height - 2, max(step - 1, 1), 2, f"{when}: no data", "nodata"))
            continue
        h = max(point.value / top * (height - 4), 1 if point.value else 0)
        title = describe(point, when) if describe else f"{when}: {fmt.format(point.value)}{unit}"
        bars.append(Column(i * step, height - h, max(step - 1, 1), h, title, "" if point.value else "zero"))
    ticks = (
        [
            (round(i * step, 1), timezone.localtime(points[i].at).strftime(time_fmt))
            for i in range(0, len(points), tick_every or len(points) or 1)
        ]
        if tick_every
        else []
    )
    return Chart(
        width=width,
        height=height,
        bars=bars,
        max_label=f"{fmt.format(top)}{unit}",
        first_label=timezone.localtime(points[0].at).strftime(time_fmt) if points else "",
        last_label=timezone.localtime(points[-1].at).strftime(time_fmt) if points else "",
        empty=not any(values),
        ticks=ticks,
    )
