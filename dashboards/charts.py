"""Server-rendered SVG charts for the admin dashboards (docs/architecture.md §1): progress bars, the
collection funnel, throughput, vote distributions and the confidence table of Deng et al. 2009
Fig. 7.

Every function takes plain data and returns a ``SafeString`` holding one ``<svg>`` element: no
JavaScript, nothing from a CDN. Every piece of text is XML-escaped here, because synset lemmas and
worker names come from outside; callers can put the result in a template as is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from django.utils.safestring import SafeString, mark_safe

FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#d9e2ec"
BAR = "#2f6fde"
TARGET = "#d64545"
# Okabe–Ito colours: told apart by readers with any common colour-vision deficiency.
SERIES_COLOURS = ("#009e73", "#d55e00", "#999999", "#0072b2", "#e69f00", "#cc79a7", "#56b4e9")
OUTCOME_COLOURS = {"accepted": "#009e73", "rejected": "#d55e00", "undecided": "#999999"}

# XML 1.0 forbids these code points even when escaped; a lemma carrying one would break the page.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CHART_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
LABEL_MAX_CHARS = 44
# Text is FONT_SIZE units high and a chart renders at its natural size (one viewBox unit per CSS
# pixel), so on screen every label is 13 px: never shrunk by a narrow card (which scrolls
# instead), never blown up by a wide one.
FONT_SIZE = 13
TITLE_H = 26.0  # the visible title line above every chart's body
CHAR_W = 0.62 * FONT_SIZE  # a generous average advance of system-ui glyphs, for layout only


@dataclass(frozen=True, slots=True)
class ProgressRow:
    """One bar: a synset (or subtree) with its accepted images and its target; ``depth`` indents it
    under its parent when the rows follow the WordNet tree."""

    label: str
    value: float
    target: float
    depth: int = 0


@dataclass(frozen=True, slots=True)
class FunnelCounts:
    """The collection funnel of one synset or subtree (docs/architecture.md §1)."""

    queries: int
    candidates: int
    unique: int
    voted: int
    accepted: int
    rejected: int
    undecided: int


@dataclass(frozen=True, slots=True)
class StackedRow:
    """One stacked bar: a label and a count per series (e.g. yes/no votes of one synset)."""

    label: str
    counts: dict[str, float] = field(default_factory=dict)


def _text(value: object) -> str:
    return escape(_XML_INVALID.sub("", str(value)))


def _attr(value: object) -> str:
    return quoteattr(_XML_INVALID.sub("", str(value)))


def _num(value: float) -> str:
    """Coordinates with two decimals: enough for a viewBox, short enough to keep pages small."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fmt_count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _short(label: str, limit: int = LABEL_MAX_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _text_w(text: str) -> float:
    """Estimated width of ``text`` (as shortened for display) in viewBox units."""
    return len(_short(text)) * CHAR_W


def _check_amount(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number ≥ 0, got {value!r}")
    return value


def _chart_id(chart_id: str | None, *parts: object) -> str:
    if chart_id is not None:
        if not _CHART_ID.fullmatch(chart_id):
            raise ValueError(f"chart_id must match {_CHART_ID.pattern}")
        return chart_id
    # Stable across renders (no global counter), so cached pages and tests see the same ids.
    digest = hashlib.blake2s(repr(parts).encode(), digest_size=5).hexdigest()
    return f"chart-{digest}"


def _svg(
    *, width: float, height: float, title: str, desc: str, body: list[str], kind: str, cid: str
) -> SafeString:
    """The chart: its title as a visible first line (not only a tooltip), the body below it.

    Sized by an inline style at its natural size (one viewBox unit per CSS pixel, so text stays
    at FONT_SIZE px); no width/height attributes, so a stylesheet may still let it scale."""
    # The visible title is set two units larger than the body text.
    width = max(width, len(_short(title, 80)) * CHAR_W * (FONT_SIZE + 2) / FONT_SIZE + 24)
    height += TITLE_H
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'role="img" aria-labelledby="{cid}-title {cid}-desc" class="chart chart-{kind}" '
        f'preserveAspectRatio="xMinYMin meet" font-family={_attr(FONT)} '
        f'font-size="{FONT_SIZE}" fill="{INK}" style="width:{_num(width)}px;max-width:none">'
        f'<title id="{cid}-title">{_text(title)}</title>'
        f'<desc id="{cid}-desc">{_text(desc)}</desc>'
        f'<text class="chart-title" x="8" y="18" font-size="{FONT_SIZE + 2}" '
        f'font-weight="600">{_text(_short(title, 80))}</text>'
        f'<g class="chart-body" transform="translate(0 {_num(TITLE_H)})">'
    )
    return mark_safe(head + "".join(body) + "</g></svg>")  # noqa: S308 - every text is escaped


def _label(x: float, y: float, text: str, *, anchor: str = "start", **attrs: str) -> str:
    """A text element; a shortened label keeps its full text in a tooltip."""
    extra = "".join(f" {name.replace('_', '-')}={_attr(value)}" for name, value in attrs.items())
    short = _short(text)
    tooltip = f"<title>{_text(text)}</title>" if short != text else ""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{extra}>'
        f"{tooltip}{_text(short)}</text>"
    )


def _empty(title: str, kind: str, cid: str, message: str = "No data yet") -> SafeString:
    return _svg(
        width=400,
        height=60,
        title=title,
        desc=message,
        kind=kind,
        cid=cid,
        body=[_label(200, 35, message, anchor="middle", fill=MUTED)],
    )


def progress_bars(
    rows: Sequence[ProgressRow],
    *,
    title: str = "Progress to target",
    unit: str = "images",
    chart_id: str | None = None,
) -> SafeString:
    """Horizontal bars of accepted images per synset with the target as a red tick.

    All bars share one scale (the largest value or target), so bar lengths compare across rows.
    """
    cid = _chart_id(chart_id, "progress", title, unit, [_row_tuple(r) for r in rows])
    if not rows:
        return _empty(title, "progress", cid)
    plot_w, note_w, row_h, indent = 420.0, 170.0, 24.0, 12.0
    label_w = max(
        190.0, max(_text_w(r.label) + indent * max(r.depth, 0) + 16 for r in rows)
    )
    scale = max(
        max(_check_amount(r.value, "value"), _check_amount(r.target, "target")) for r in rows
    )
    scale = scale or 1.0
    body: list[str] = [
        '<g class="axis">'
        + _label(4, 14, "Synset", fill=MUTED)
        + _label(label_w, 14, f"Accepted {unit} (red tick: target)", fill=MUTED)
        + _label(label_w + plot_w + 8, 14, "accepted / target", fill=MUTED)
        + "</g>"
    ]
    for i, row in enumerate(rows):
        y = 24 + i * row_h
        width = plot_w * row.value / scale
        share = f" ({row.value / row.target:.0%})" if row.target else ""
        body.append(
            f'<g class="row" data-label={_attr(row.label)} data-value="{_num(row.value)}" '
            f'data-target="{_num(row.target)}">'
            + _label(4 + indent * max(row.depth, 0), y + 14, row.label)
            + f'<rect class="track" x="{_num(label_w)}" y="{_num(y + 3)}" '
            f'width="{_num(plot_w)}" height="14" fill="{GRID}" rx="2"/>'
            f'<rect class="bar" x="{_num(label_w)}" y="{_num(y + 3)}" width="{_num(width)}" '
            f'height="14" fill="{BAR}" rx="2"><title>{_text(row.label)}: '
            f"{_fmt_count(row.value)} of {_fmt_count(row.target)} {_text(unit)}</title></rect>"
            + (
                f'<line class="target" x1="{_num(label_w + plot_w * row.target / scale)}" '
                f'x2="{_num(label_w + plot_w * row.target / scale)}" y1="{_num(y)}" '
                f'y2="{_num(y + 20)}" stroke="{TARGET}" stroke-width="2"/>'
                if row.target
                else ""
            )
            + _label(
                label_w + plot_w + 8,
                y + 14,
                f"{_fmt_count(row.value)} / {_fmt_count(row.target)}{share}",
                fill=MUTED,
            )
            + "</g>"
        )
    reached = sum(1 for r in rows if r.target and r.value >= r.target)
    desc = f"{len(rows)} rows; {reached} reached their target. Unit: {unit}."
    height = 32 + len(rows) * row_h
    return _svg(
        width=label_w + plot_w + note_w,
        height=height,
        title=title,
        desc=desc,
        body=body,
        kind="progress",
        cid=cid,
    )


def _row_tuple(row: ProgressRow) -> tuple[str, float, float, int]:
    return (row.label, row.value, row.target, row.depth)


def funnel_chart(
    counts: FunnelCounts, *, title: str = "Collection funnel", chart_id: str | None = None
) -> SafeString:
    """The funnel queries → candidates → unique → voted → accepted / rejected / undecided.

    Queries are a different unit (searches, not images), so they head the funnel as text; the
    image stages share the candidates' scale and the last bar splits the voted images by outcome.
    """
    values = dataclasses.astuple(counts)
    for item in dataclasses.fields(counts):
        _check_amount(getattr(counts, item.name), item.name)
    cid = _chart_id(chart_id, "funnel", title, values)
    width, label_w, plot_w, row_h = 660.0, 110.0, 400.0, 34.0
    scale = max(counts.candidates, counts.unique, counts.voted, 1)
    stages = (
        ("Candidates", counts.candidates, None),
        ("Unique", counts.unique, counts.candidates),
        ("Voted", counts.voted, counts.unique),
    )
    body = [
        _label(8, 22, f"{_fmt_count(counts.queries)} search queries", font_weight="600"),
    ]
    y = 36.0
    for name, value, previous in stages:
        bar_w = plot_w * value / scale
        x = label_w + (plot_w - bar_w) / 2  # centred bars read as a funnel
        kept = f" ({value / previous:.0%} kept)" if previous else ""
        body.append(
            f'<g class="stage" data-stage="{name.lower()}" data-value="{value}">'
            + _label(8, y + 17, name)
            + f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" height="24" '
            f'fill="{BAR}" rx="2"><title>{name}: {_fmt_count(value)}</title></rect>'
            + _label(label_w + plot_w + 8, y + 17, f"{_fmt_count(value)}{kept}", fill=MUTED)
            + "</g>"
        )
        y += row_h
    outcomes = (
        ("accepted", counts.accepted),
        ("rejected", counts.rejected),
        ("undecided", counts.undecided),
    )
    decided_total = sum(v for _, v in outcomes)
    outer_w = plot_w * decided_total / scale
    x = label_w + (plot_w - outer_w) / 2
    parts = [_label(8, y + 17, "Outcome")]
    for name, value in outcomes:
        seg_w = outer_w * value / decided_total if decided_total else 0.0
        parts.append(
            f'<rect class="segment" data-outcome="{name}" data-value="{value}" x="{_num(x)}" '
            f'y="{_num(y)}" width="{_num(seg_w)}" height="24" fill="{OUTCOME_COLOURS[name]}">'
            f"<title>{name.capitalize()}: {_fmt_count(value)}</title></rect>"
        )
        x += seg_w
    legend_x = label_w
    legend_y = y + row_h + 6
    for name, value in outcomes:
        parts.append(
            f'<rect x="{_num(legend_x)}" y="{_num(legend_y - 10)}" width="10" height="10" '
            f'fill="{OUTCOME_COLOURS[name]}"/>'
            + _label(legend_x + 14, legend_y, f"{name} {_fmt_count(value)}", fill=MUTED)
        )
        legend_x += 130
    body.append('<g class="stage" data-stage="outcome">' + "".join(parts) + "</g>")
    accepted_share = f"{counts.accepted / counts.candidates:.1%}" if counts.candidates else "n/a"
    desc = (
        f"{counts.queries} queries gave {counts.candidates} candidates, {counts.unique} unique, "
        f"{counts.voted} voted: {counts.accepted} accepted, {counts.rejected} rejected, "
        f"{counts.undecided} undecided ({accepted_share} of candidates accepted)."
    )
    return _svg(
        width=width, height=legend_y + 12, title=title, desc=desc, body=body, kind="funnel", cid=cid
    )


def _nice_step(value: float) -> float:
    """Round up to 1, 2 or 5 × 10^k so axis ticks fall on round numbers."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if value <= step * magnitude)


def throughput_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    title: str = "Throughput",
    unit: str = "votes",
    chart_id: str | None = None,
) -> SafeString:
    """An area chart of counts per time bucket (e.g. votes per hour), x scaled by real time so
    gaps in activity show as gaps, y from zero to a round maximum."""
    ordered = sorted(points, key=lambda p: p[0])
    cid = _chart_id(chart_id, "throughput", title, unit, [(t.isoformat(), c) for t, c in ordered])
    if not ordered:
        return _empty(title, "throughput", cid)
    for _, count in ordered:
        _check_amount(count, "count")
    left, top, plot_w, plot_h = 64.0, 24.0, 560.0, 180.0
    peak = max(c for _, c in ordered)
    step = _nice_step(peak / 5)
    n_ticks = max(1, math.ceil(peak / step))
    y_max = step * n_ticks
    t0, t1 = ordered[0][0].timestamp(), ordered[-1][0].timestamp()
    span = t1 - t0

    def x_of(moment: datetime) -> float:
        return left + (plot_w * (moment.timestamp() - t0) / span if span else plot_w / 2)

    def y_of(count: float) -> float:
        return top + plot_h - plot_h * count / y_max

    body: list[str] = []
    for i in range(n_ticks + 1):
        tick = step * i
        y = y_of(tick)
        body.append(
            f'<line class="grid" x1="{_num(left)}" x2="{_num(left + plot_w)}" y1="{_num(y)}" '
            f'y2="{_num(y)}" stroke="{GRID}"/>'
            + _label(left - 6, y + 4, _fmt_count(tick), anchor="end", fill=MUTED)
        )
    coords = " ".join(f"{_num(x_of(t))},{_num(y_of(c))}" for t, c in ordered)
    baseline = _num(top + plot_h)
    first_x, last_x = _num(x_of(ordered[0][0])), _num(x_of(ordered[-1][0]))
    body.append(
        f'<polygon class="area" points="{first_x},{baseline} {coords} {last_x},{baseline}" '
        f'fill="{BAR}" fill-opacity="0.18"/>'
        f'<polyline class="line" points="{coords}" fill="none" stroke="{BAR}" stroke-width="2"/>'
    )
    # Per-point markers with tooltips only while they stay readable.
    if len(ordered) <= 60:
        body.extend(
            f'<circle class="point" cx="{_num(x_of(t))}" cy="{_num(y_of(c))}" r="3" fill="{BAR}">'
            f"<title>{_text(t.isoformat(timespec='minutes'))}: {_fmt_count(c)} {_text(unit)}"
            "</title></circle>"
            for t, c in ordered
        )
    fmt = "%Y-%m-%d %H:%M" if span < 3 * 86400 else "%Y-%m-%d"
    ticks = [ordered[0][0]] if not span else [ordered[0][0], ordered[len(ordered) // 2][0]]
    if span:
        ticks.append(ordered[-1][0])
    anchors = ("start", "middle", "end") if span else ("middle",)
    for moment, anchor in zip(ticks, anchors, strict=False):
        body.append(
            _label(x_of(moment), top + plot_h + 18, moment.strftime(fmt), anchor=anchor, fill=MUTED)
        )
    body.append(
        '<g class="axis">'
        + _label(4, 14, f"{unit.capitalize()} per bucket", fill=MUTED)
        + _label(left + plot_w, top + plot_h + 38, "Time (UTC)", anchor="end", fill=MUTED)
        + "</g>"
    )
    total = sum(c for _, c in ordered)
    desc = (
        f"{_fmt_count(total)} {unit} in {len(ordered)} buckets from "
        f"{ordered[0][0].isoformat(timespec='minutes')} to "
        f"{ordered[-1][0].isoformat(timespec='minutes')}; peak {_fmt_count(peak)}."
    )
    return _svg(
        width=left + plot_w + 16,
        height=top + plot_h + 46,
        title=title,
        desc=desc,
        body=body,
        kind="throughput",
        cid=cid,
    )


def vote_distribution_chart(
    rows: Sequence[StackedRow],
    *,
    series: Sequence[str] = ("yes", "no"),
    normalize: bool = True,
    title: str = "Vote distribution",
    chart_id: str | None = None,
) -> SafeString:
    """Stacked horizontal bars, one per row, one segment per series in ``series`` order.

    With ``normalize`` every bar spans the full width (shares), else bars share the largest total.
    """
    cid = _chart_id(
        chart_id, "votes", title, tuple(series), normalize, [(r.label, r.counts) for r in rows]
    )
    if not rows:
        return _empty(title, "votes", cid)
    colours = {name: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, name in enumerate(series)}
    totals = [
        sum(_check_amount(r.counts.get(name, 0), f"{name} count") for name in series) for r in rows
    ]
    plot_w, note_w, row_h = 400.0, 90.0, 26.0
    label_w = max(190.0, max(_text_w(r.label) + 16 for r in rows))
    scale = max(totals) or 1.0
    body: list[str] = []
    for i, (row, total) in enumerate(zip(rows, totals, strict=True)):
        y = 30 + i * row_h
        bar_w = plot_w if normalize else plot_w * total / scale
        x = label_w
        segments = []
        for name in series:
            value = float(row.counts.get(name, 0))
            seg_w = bar_w * value / total if total else 0.0
            share = f" ({value / total:.0%})" if total else ""
            segments.append(
                f'<rect class="segment" data-series={_attr(name)} data-value="{_num(value)}" '
                f'x="{_num(x)}" y="{_num(y + 3)}" width="{_num(seg_w)}" height="16" '
                f'fill="{colours[name]}"><title>{_text(row.label)} · {_text(name)}: '
                f"{_fmt_count(value)}{share}</title></rect>"
            )
            x += seg_w
        body.append(
            f'<g class="row" data-label={_attr(row.label)} data-total="{_num(total)}">'
            + _label(4, y + 15, row.label)
            + "".join(segments)
            + _label(label_w + plot_w + 8, y + 15, _fmt_count(total), fill=MUTED)
            + "</g>"
        )
    legend = []
    legend_x = label_w
    for name in series:
        legend.append(
            f'<rect x="{_num(legend_x)}" y="8" width="10" height="10" fill="{colours[name]}"/>'
            + _label(legend_x + 14, 17, name, fill=MUTED)
        )
        legend_x += 14 + _text_w(name) + 20
    body.insert(0, '<g class="legend">' + "".join(legend) + "</g>")
    desc = f"{len(rows)} rows, series: {', '.join(series)}; " + (
        "bars show shares." if normalize else "bars show counts on a shared scale."
    )
    return _svg(
        width=label_w + plot_w + note_w,
        height=36 + len(rows) * row_h,
        title=title,
        desc=desc,
        body=body,
        kind="votes",
        cid=cid,
    )


def probability_colour(p: float) -> str:
    """Diverging orange → white → purple (ColorBrewer PuOr, colour-blind safe): P(good) = 0.5 is
    white, so the cells the consensus cannot decide stand out as pale."""
    p = min(max(float(p), 0.0), 1.0)
    low, mid, high = (230, 97, 1), (247, 247, 247), (94, 60, 153)
    a, b, t = (low, mid, p * 2) if p < 0.5 else (mid, high, (p - 0.5) * 2)
    r, g, bl = (round(a[i] + (b[i] - a[i]) * t) for i in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def confidence_heat_table(
    tables: Sequence[tuple[str, Sequence[tuple[int, int, float]]]],
    *,
    accept_threshold: float | None = None,
    title: str = "Confidence table",
    chart_id: str | None = None,
) -> SafeString:
    """The Fig. 7 confidence table of Deng et al. 2009: P(good image | yes, no votes) for one or
    two synsets side by side, each cell coloured by its probability.

    ``tables`` pairs a synset label with ``ConfidenceTable.rows()`` output ``[(yes, no, p), …]``;
    rows are aligned on (yes, no) so two synsets compare line by line. Cells at or above
    ``accept_threshold`` are outlined: there the consensus stops and accepts.
    """
    if not 1 <= len(tables) <= 2:
        raise ValueError("the confidence table shows one or two synsets")
    for _, rows in tables:
        for _yes, _no, p in rows:
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"P(good) must lie in [0, 1], got {p!r}")
    keys: list[tuple[int, int]] = []
    lookup: list[dict[tuple[int, int], float]] = []
    for _, rows in tables:
        cells = {(int(y), int(n)): float(p) for y, n, p in rows}
        lookup.append(cells)
        keys.extend(k for k in cells if k not in keys)
    cid = _chart_id(
        chart_id, "confidence", title, accept_threshold, [(s, list(r)) for s, r in tables]
    )
    # Fig. 7's order: fewer votes first; at equal votes, more "no" first (P(good) rises down).
    keys.sort(key=lambda k: (k[0] + k[1], k[0]))
    col_w, p_w, row_h, group_gap, head_h = 44.0, 80.0, 24.0, 24.0, 46.0
    group_w = max([2 * col_w + p_w] + [_text_w(s) + 8 for s, _ in tables])
    body: list[str] = []
    for g, (synset, _) in enumerate(tables):
        gx = 8 + g * (group_w + group_gap)
        body.append(
            f'<g class="synset" data-synset={_attr(synset)}>'
            + _label(gx, 16, synset, font_weight="600")
            + _label(gx + col_w / 2, 38, "Yes", anchor="middle", fill=MUTED)
            + _label(gx + col_w * 1.5, 38, "No", anchor="middle", fill=MUTED)
            + _label(gx + 2 * col_w + p_w / 2, 38, "P(good)", anchor="middle", fill=MUTED)
        )
        for i, key in enumerate(keys):
            y = head_h + i * row_h
            p = lookup[g].get(key)
            if p is None:
                continue
            accept = accept_threshold is not None and p >= accept_threshold
            outline = f' stroke="{INK}" stroke-width="2"' if accept else ""
            ink = "#ffffff" if abs(p - 0.5) > 0.35 else INK  # keep text readable on dark cells
            body.append(
                f'<g class="cell-row" data-yes="{key[0]}" data-no="{key[1]}">'
                + _label(gx + col_w / 2, y + 15, str(key[0]), anchor="middle")
                + _label(gx + col_w * 1.5, y + 15, str(key[1]), anchor="middle")
                + f'<rect class="cell" data-p="{p:.4f}" x="{_num(gx + 2 * col_w)}" '
                f'y="{_num(y + 1)}" width="{_num(p_w)}" height="{_num(row_h - 2)}" '
                f'fill="{probability_colour(p)}"{outline}/>'
                + _label(gx + 2 * col_w + p_w / 2, y + 15, f"{p:.3f}", anchor="middle", fill=ink)
                + "</g>"
            )
        body.append("</g>")
    names = " and ".join(s for s, _ in tables)
    desc = f"P(good image | yes votes, no votes) for {names}; {len(keys)} vote combinations." + (
        f" Outlined cells reach the accept threshold {accept_threshold}."
        if accept_threshold is not None
        else ""
    )
    return _svg(
        width=16 + len(tables) * group_w + (len(tables) - 1) * group_gap,
        height=head_h + len(keys) * row_h + 8,
        title=title,
        desc=desc,
        body=body,
        kind="confidence",
        cid=cid,
    )
