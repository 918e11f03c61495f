"""Charts a reader can read: visible titles and axis labels (not only tooltips), text of at least
12 px because a chart renders at its natural size, labels that start inside the chart
(the Fig. 7 card once cut "musical instrument" to "usical instrument (n038009"), and the Fig. 7
rows in the paper's order."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from dashboards.charts import (
    CHAR_W,
    FunnelCounts,
    ProgressRow,
    StackedRow,
    confidence_heat_table,
    funnel_chart,
    progress_bars,
    throughput_chart,
    vote_distribution_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
LABEL = "musical instrument (n03800933)"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _charts():
    return {
        "progress": progress_bars([ProgressRow(LABEL, 3, 10)], title="Accepted per synset"),
        "funnel": funnel_chart(FunnelCounts(3, 100, 90, 80, 50, 20, 10), title="Funnel"),
        "throughput": throughput_chart(
            [(T0, 3), (T0 + timedelta(hours=5), 9)], title="Votes per hour"
        ),
        "votes": vote_distribution_chart([StackedRow(LABEL, {"yes": 3, "no": 1})], title="Votes"),
        "confidence": confidence_heat_table(
            [(LABEL, [(2, 0, 0.97), (0, 1, 0.1), (1, 1, 0.5), (1, 0, 0.8)])], title="Fig. 7"
        ),
    }


def _width(root) -> float:
    return float(root.get("viewBox").split()[2])


@pytest.mark.parametrize("kind", ["progress", "funnel", "throughput", "votes", "confidence"])
def test_title_is_visible_and_text_never_shrinks_below_12px(kind):
    root = ET.fromstring(_charts()[kind])

    visible = root.find(f"{SVG}text[@class='chart-title']")
    assert visible is not None and visible.text == root.find(f"{SVG}title").text
    # The whole title fits (it is drawn two units larger than the body text).
    assert 8 + len(visible.text) * CHAR_W * (13 + 2) / 13 <= _width(root)
    assert int(root.get("font-size")) >= 12
    # Rendered at the viewBox width: one viewBox unit is one CSS pixel, text stays 13 px.
    width = float(re.search(r"(?:^|;)width:([0-9.]+)px", root.get("style")).group(1))
    assert width == pytest.approx(_width(root))


@pytest.mark.parametrize("kind", ["progress", "votes", "confidence"])
def test_a_synset_label_is_whole_and_starts_inside_the_chart(kind):
    root = ET.fromstring(_charts()[kind])

    texts = [t for t in root.iter(f"{SVG}text") if "".join(t.itertext()) == LABEL]
    assert texts, "the label is shown in full, not shortened"
    for text in texts:
        x = float(text.get("x"))
        anchor = text.get("text-anchor", "start")
        left = x - (len(LABEL) * CHAR_W / 2 if anchor == "middle" else 0)
        assert left >= 0 and anchor != "end"
        assert left + len(LABEL) * CHAR_W <= _width(root)


def test_axes_are_named_on_the_chart():
    text = " ".join("".join(t.itertext()) for t in ET.fromstring(_charts()["throughput"]).iter(
        f"{SVG}text"
    ))
    assert "Votes per bucket" in text and "Time (UTC)" in text
    progress = " ".join(
        "".join(t.itertext()) for t in ET.fromstring(_charts()["progress"]).iter(f"{SVG}text")
    )
    assert "accepted / target" in progress and "red tick: target" in progress


def test_fig7_rows_follow_the_number_of_votes():
    root = ET.fromstring(_charts()["confidence"])
    rows = [(int(g.get("data-yes")), int(g.get("data-no"))) for g in root.iter(f"{SVG}g")
            if g.get("class") == "cell-row"]  # fmt: skip
    assert rows == [(0, 1), (1, 0), (1, 1), (2, 0)]
