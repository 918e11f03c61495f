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


def _run(votes, truth, *extra):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "consensus_eval", "--votes", str(votes), "--truth", str(truth), *extra, stdout=out,
        stderr=err,
    )  # fmt: skip
    return json.loads(out.getvalue()), err.getvalue()


def test_truth_missing_a_column_is_a_clear_error(archive, tmp_path):
    truth = tmp_path / "truth_bad.csv"
    truth.write_text("item,answer\n0,0\n")
    with pytest.raises(CommandError, match=r"missing column\(s\) \['label'\]"):
        _run(archive[0], truth)


def test_truth_matching_no_voted_item_is_an_error(archive, tmp_path):
    truth = tmp_path / "truth_other.csv"
    truth.write_text("item,label\nx1,0\nx2,1\n")
    with pytest.raises(CommandError, match="none of its 2 items"):
        _run(archive[0], truth)


@pytest.mark.parametrize("which", ["votes", "truth"])
def test_header_only_files_are_refused(archive, tmp_path, which):
    empty = tmp_path / "empty.csv"
    empty.write_text("item,worker,label\n" if which == "votes" else "item,label\n")
    paths = (empty, archive[1]) if which == "votes" else (archive[0], empty)
    with pytest.raises(CommandError, match="header only"):
        _run(*paths)


def test_an_empty_file_is_refused(archive, tmp_path):
    empty = tmp_path / "nothing.csv"
    empty.write_text("")
    with pytest.raises(CommandError, match="empty file"):
        _run(empty, archive[1])


def test_bom_headers_are_read(archive, tmp_path):
    votes = tmp_path / "bom_votes.csv"
    votes.write_bytes(b"\xef\xbb\xbf" + archive[0].read_bytes())
    truth = tmp_path / "bom_truth.csv"
    truth.write_bytes(b"\xef\xbb\xbf" + archive[1].read_bytes())
    report, _ = _run(votes, truth)
    assert report["n_items"] == 12
    assert report["accuracy"] == 1.0


def test_stray_spaces_and_labels_are_cleaned_and_counted(archive, tmp_path):
    votes = tmp_path / "dirty.csv"
    lines = archive[0].read_text().splitlines()
    lines = [lines[0]] + [line.replace(",a,", ", a ,") for line in lines[1:]]
    # A stray value among 0/1, on 1 of 49 votes would not be rare enough: make the file larger.
    lines += [f"{item},w{k},{item % 2}" for item in range(12) for k in range(40)]
    lines += ["3,zz,yes", "5,zz, yes"]
    votes.write_text("\n".join(lines) + "\n")
    truth = tmp_path / "truth_outside.csv"
    truth.write_text(archive[1].read_text() + "12, 7\n")
    lines.append("12,a,1")
    votes.write_text("\n".join(lines) + "\n")
    report, err = _run(votes, truth)
    notes = report["input"]
    assert notes["votes"]["values_with_spaces_stripped"] == 13
    assert notes["votes"]["stray_labels_dropped"] == {"yes": 2}
    assert notes["truth"]["labels_outside_the_voted_set"] == {"7": 1}
    assert notes["truth"]["values_with_spaces_stripped"] == 1
    assert report["labels"] == ["0", "1"]
    assert report["n_items"] == 13  # every item of the votes file
    assert "stray labels dropped" in err


def test_n_items_counts_the_votes_file_and_n_scored_the_truth(archive, tmp_path):
    truth = tmp_path / "partial_truth.csv"
    truth.write_text("\n".join(archive[1].read_text().splitlines()[:3]) + "\n")
    report, _ = _run(archive[0], truth, "--replay")
    assert report["n_items"] == 12  # every item of the votes file, whatever the truth covers
    assert report["n_scored"] == 2
    assert report["baselines"]["mv"]["n_scored"] == 2
    assert report["input"]["truth"]["items_scored"] == 2


def test_declared_labels_drop_the_others(archive, tmp_path):
    votes = tmp_path / "declared.csv"
    votes.write_text(archive[0].read_text() + "1,e,maybe\n")
    report, _ = _run(votes, archive[1], "--labels", "0,1")
    assert report["input"]["votes"]["stray_labels_dropped"] == {"maybe": 1}
    assert report["n_items"] == 12


def test_duplicate_votes_keep_the_first_and_say_so(archive, tmp_path):
    votes = tmp_path / "dupes.csv"
    votes.write_text(archive[0].read_text() + "0,a,0\n0,a,1\n")
    report, err = _run(votes, archive[1])
    dropped = report["input"]["votes"]["duplicate_votes_dropped"]
    assert dropped["count"] == 2
    assert dropped["conflicting"] == 1
    assert "first vote" in dropped["rule"]
    assert report["n_votes"] == 48
    assert "duplicate votes dropped" in err


@pytest.mark.parametrize("replay", [True, False])
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--threshold", "0.3", "threshold must lie in"),
        ("--threshold", "1.5", "threshold must lie in"),
        ("--max-votes", "0", "max_votes must lie in"),
        ("--max-votes", "-2", "max_votes must lie in"),
    ],
)
def test_settings_out_of_range_are_refused_with_or_without_replay(
    archive, option, value, message, replay
):
    extra = [option, value] + (["--replay"] if replay else [])
    with pytest.raises(CommandError, match=message):
        _run(*archive, *extra)


def test_replay_reports_precision_at_decision_and_reliability(archive):
    report, _ = _run(*archive, "--replay", "--threshold", "0.9", "--seed-size", "0")
    replay = report["replay"]
    assert set(replay["at_decision"]["per_label"]) == {"0", "1"}
    assert isinstance(replay["reliability"], list)
    assert replay["calibrated"] is True
