"""``manage.py consensus_eval`` prints one JSON object with our model and the baselines."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture
def archive(tmp_path):
    votes = tmp_path / "votes.csv"
    lines = ["item,worker,label"]
    for item in range(12):
        label = item % 2
        lines += [f"{item},{w},{label}" for w in ("a", "b", "c")]
        lines.append(f"{item},d,{1 - label}")
    votes.write_text("\n".join(lines) + "\n")
    truth = tmp_path / "truth.csv"
    truth.write_text("item,label\n" + "".join(f"{i},{i % 2}\n" for i in range(12)))
    return votes, truth


def test_command_prints_one_json_object_with_baselines(archive):
    out = io.StringIO()
    call_command(
        "consensus_eval",
        "--votes",
        str(archive[0]),
        "--truth",
        str(archive[1]),
        "--replay",
        "--threshold",
        "0.95",
        "--max-votes",
        "4",
        "--seed",
        "2",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    assert report["method"] == "model"
    assert report["accuracy"] == 1.0
    assert set(report["per_class"]) == {"0", "1"}
    assert set(report["baselines"]) == {"mv", "ds"}
    assert 1.0 <= report["replay"]["mean_votes_per_item"] <= 4.0


def test_command_reports_a_missing_file_as_a_command_error(tmp_path):
    with pytest.raises(CommandError):
        call_command("consensus_eval", "--votes", str(tmp_path / "no.csv"), "--truth", "x.csv")
