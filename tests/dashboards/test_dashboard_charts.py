"""Tests of dashboards/charts.py: valid, accessible SVG, escaped text, honest geometry."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from dashboards.charts import (
    FunnelCounts,
    ProgressRow,
    StackedRow,
    confidence_heat_table,
    funnel_chart,
    probability_colour,
    progress_bars,
    throughput_chart,
    vote_distribution_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & "dogs"'
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _all_text(root: ET.Element) -> str:
    return " ".join("".join(node.itertext()) for node in root.iter(f"{SVG}text"))


def _charts() -> list[str]:
    return [
        progress_bars([ProgressRow(HOSTILE, 10, 20)]),
        funnel_chart(FunnelCounts(3, 100, 90, 80, 50, 20, 10)),
        throughput_chart([(T0, 3), (T0 + timedelta(hours=1), 5)]),
        vote_distribution_chart([StackedRow(HOSTILE, {"yes": 3, "no": 1})]),
        confidence_heat_table([(HOSTILE, [(0, 1, 0.1), (1, 0, 0.9)])]),
        throughput_chart([]),
    ]


@pytest.mark.parametrize("index", range(6))
def test_every_chart_is_an_accessible_responsive_svg(index):
    root = _parse(_charts()[index])

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert "viewBox" in root.attrib
    assert "width" not in root.attrib  # the viewBox alone lets it follow its container
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text
    assert desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


@pytest.mark.parametrize("index", [0, 3, 4])
def test_synset_names_are_escaped_not_markup(index):
    svg = _charts()[index]
    root = _parse(svg)

    assert "<script" not in svg
    assert not any(node.tag.endswith("script") for node in root.iter())
    assert "alert" in _all_text(root) or any("alert" in (v or "") for v in _attrs(root))


def _attrs(root: ET.Element) -> list[str]:
    return [value for node in root.iter() for value in node.attrib.values()]


def test_escaping_reaches_titles_and_attributes():
    svg = progress_bars([ProgressRow(HOSTILE, 1, 2)], title=HOSTILE, unit="<b>")
    root = _parse(svg)

    assert root.find(f"{SVG}title").text == HOSTILE
    assert root.find(f".//{SVG}g[@class='row']").get("data-label") == HOSTILE


def test_characters_forbidden_in_xml_are_dropped():
    svg = progress_bars([ProgressRow("dog\x00\x1bpuppy", 1, 2)])

    assert "dogpuppy" in _all_text(_parse(svg))


def test_long_labels_are_shortened_with_the_full_text_as_tooltip():
    label = "Canis familiaris, domestic dog, the hunting breeds of Europe"
    root = _parse(progress_bars([ProgressRow(label, 1, 2)]))

    text = root.find(f".//{SVG}g[@class='row']/{SVG}text")
    assert text.find(f"{SVG}title").text == label
    assert "".join(text.itertext()).endswith("…")


def test_progress_bar_widths_are_proportional_to_values():
    rows = [ProgressRow("dog", 250, 1000), ProgressRow("cat", 500, 1000), ProgressRow("fox", 0, 10)]

    root = _parse(progress_bars(rows))

    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert widths[1] == pytest.approx(2 * widths[0])
    assert widths[2] == 0
    tracks = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("class") == "track"]
    assert widths[1] == pytest.approx(tracks[1] * 500 / 1000)


def test_progress_target_tick_sits_at_the_target():
    root = _parse(progress_bars([ProgressRow("dog", 300, 600), ProgressRow("cat", 1200, 600)]))

    bar = next(r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar")
    tick = next(line for line in root.iter(f"{SVG}line") if line.get("class") == "target")
    bar_end = float(bar.get("x")) + float(bar.get("width"))
    # 300 of a 1200 scale is a quarter; the 600 target is half.
    assert float(tick.get("x1")) - float(bar.get("x")) == pytest.approx(2 * float(bar.get("width")))
    assert bar_end < float(tick.get("x1"))


def test_progress_rejects_negative_values():
    with pytest.raises(ValueError, match="≥ 0"):
        progress_bars([ProgressRow("dog", -1, 10)])


def test_empty_progress_says_so():
    assert "No data yet" in _all_text(_parse(progress_bars([])))


def test_funnel_stage_widths_follow_counts_and_outcomes_split_voted():
    counts = FunnelCounts(
        queries=12,
        candidates=1000,
        unique=800,
        voted=600,
        accepted=300,
        rejected=200,
        undecided=100,
    )

    root = _parse(funnel_chart(counts))

    stages = {g.get("data-stage"): g for g in root.iter(f"{SVG}g") if g.get("class") == "stage"}
    width = {
        name: float(g.find(f"{SVG}rect").get("width"))
        for name, g in stages.items()
        if name != "outcome"
    }
    assert width["unique"] == pytest.approx(0.8 * width["candidates"])
    assert width["voted"] == pytest.approx(0.6 * width["candidates"])
    segments = {
        r.get("data-outcome"): float(r.get("width"))
        for r in stages["outcome"].iter(f"{SVG}rect")
        if r.get("class") == "segment"
    }
    assert sum(segments.values()) == pytest.approx(width["voted"])
    assert segments["accepted"] == pytest.approx(3 * segments["undecided"])
    assert "12 search queries" in _all_text(root)


def test_funnel_of_an_empty_synset_renders():
    root = _parse(funnel_chart(FunnelCounts(0, 0, 0, 0, 0, 0, 0)))

    assert all(float(r.get("width")) == 0 for r in root.iter(f"{SVG}rect") if r.get("class"))


def test_throughput_scales_time_and_counts():
    points = [(T0 + timedelta(hours=h), c) for h, c in [(3, 40), (0, 0), (1, 20), (4, 10)]]

    root = _parse(throughput_chart(points, unit="votes"))

    line = next(n for n in root.iter(f"{SVG}polyline"))
    coords = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
    xs, ys = zip(*coords, strict=True)
    assert list(xs) == sorted(xs)  # points sorted by time
    # x follows real time: the 1 h → 3 h gap is twice the 0 h → 1 h one.
    assert xs[2] - xs[1] == pytest.approx(2 * (xs[1] - xs[0]))
    baseline, top = ys[0], ys[2]  # counts 0 and 40 (the axis maximum is 40)
    assert ys[1] == pytest.approx(baseline + (top - baseline) / 2)
    ticks = [t for t in _all_text(root).split() if t.isdigit()]
    assert "40" in ticks


def test_throughput_of_one_point_is_centred():
    root = _parse(throughput_chart([(T0, 5)]))

    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_vote_distribution_segments_are_shares_of_full_width():
    rows = [StackedRow("dog", {"yes": 30, "no": 10}), StackedRow("cat", {"yes": 1, "no": 3})]

    root = _parse(vote_distribution_chart(rows))

    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "row"]
    for group, share_yes in zip(groups, (0.75, 0.25), strict=True):
        seg = {r.get("data-series"): float(r.get("width")) for r in group.iter(f"{SVG}rect")}
        assert seg["yes"] / (seg["yes"] + seg["no"]) == pytest.approx(share_yes)
        assert seg["yes"] + seg["no"] == pytest.approx(400)


def test_vote_distribution_counts_share_one_scale_when_not_normalised():
    rows = [StackedRow("dog", {"yes": 30, "no": 10}), StackedRow("cat", {"yes": 10, "no": 10})]

    root = _parse(vote_distribution_chart(rows, normalize=False))

    totals = [
        sum(float(r.get("width")) for r in g.iter(f"{SVG}rect"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "row"
    ]
    assert totals[1] == pytest.approx(totals[0] / 2)


def test_confidence_table_shows_two_synsets_side_by_side():
    cat = [(0, 1, 0.07), (1, 0, 0.85), (2, 0, 0.99)]
    burmese = [(0, 1, 0.02), (1, 0, 0.4), (2, 0, 0.91)]

    root = _parse(
        confidence_heat_table([("cat", cat), ("Burmese cat", burmese)], accept_threshold=0.9)
    )

    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "synset"]
    assert [g.get("data-synset") for g in groups] == ["cat", "Burmese cat"]
    cells = [[float(r.get("data-p")) for r in g.iter(f"{SVG}rect")] for g in groups]
    assert cells == [[0.07, 0.85, 0.99], [0.02, 0.4, 0.91]]
    outlined = [r.get("data-p") for r in root.iter(f"{SVG}rect") if r.get("stroke")]
    assert outlined == ["0.9900", "0.9100"]
    fills = [r.get("fill") for r in groups[0].iter(f"{SVG}rect")]
    assert fills == [probability_colour(p) for p in (0.07, 0.85, 0.99)]


def test_probability_colour_is_white_when_undecided_and_diverges():
    assert probability_colour(0.5) == "#f7f7f7"
    assert probability_colour(0.0) != probability_colour(1.0)
    assert probability_colour(-3) == probability_colour(0.0)


@pytest.mark.parametrize(
    "tables",
    [[], [("a", [])] * 3, [("a", [(1, 0, 1.5)])]],
)
def test_confidence_table_rejects_bad_input(tables):
    with pytest.raises(ValueError, match="one or two|P\\(good\\)"):
        confidence_heat_table(tables)


def test_chart_ids_are_stable_and_can_be_chosen():
    rows = [ProgressRow("dog", 1, 2)]

    assert progress_bars(rows) == progress_bars(rows)
    assert 'id="dogs-title"' in progress_bars(rows, chart_id="dogs")
    with pytest.raises(ValueError, match="chart_id"):
        progress_bars(rows, chart_id='x" onload="alert(1)')
