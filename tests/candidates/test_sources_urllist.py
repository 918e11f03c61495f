"""The URL list source: CSV and TXT lists as people export them (BOM, CRLF, comments, ImageNet's
own ``<image id> <url>`` lines), broken lines collected with their line numbers, wnid selection."""

from __future__ import annotations

import pytest

from candidates.sources.base import ConfigurationError, SourceError
from candidates.sources.urllist import UrlListSource, parse_url_list

DOG = "n02084071"
TENCH = "n01440764"


def _errors(text: str, **kwargs: str) -> dict[int, str]:
    return dict(parse_url_list(text, **kwargs)[1])


def test_csv_with_bom_crlf_header_comments_and_blank_lines():
    text = (
        "\ufeffurl,wnid,page_url,title,license,attribution\r\n"
        "# exported 2026-11-01\r\n"
        f"https://img.example/1.jpg,{DOG},https://photos.example/1,"
        '"Rex, sitting",CC BY 4.0,Ann\r\n'
        "\r\n"
        f"https://img.example/2.jpg,{TENCH},,,,\r\n"
    )
    rows, errors = parse_url_list(text)
    assert errors == []
    assert [(r.line, r.url, r.wnid, r.title, r.license, r.attribution) for r in rows] == [
        (3, "https://img.example/1.jpg", DOG, "Rex, sitting", "CC BY 4.0", "Ann"),
        (5, "https://img.example/2.jpg", TENCH, "", "", ""),
    ]
    assert rows[0].page_url == "https://photos.example/1"


def test_csv_header_may_reorder_and_rename_columns():
    text = f"Synset,Title,Image_URL\n{DOG},Rex,https://img.example/1.jpg\n"
    (row,), errors = parse_url_list(text)
    assert (row.url, row.wnid, row.title, errors) == ("https://img.example/1.jpg", DOG, "Rex", [])


def test_csv_without_header_reads_columns_by_position():
    rows, errors = parse_url_list(
        f"https://img.example/1.jpg,{DOG},https://p.example/1,Rex\nhttps://img.example/2.jpg\n"
    )
    assert [(r.url, r.wnid, r.title) for r in rows] == [
        ("https://img.example/1.jpg", DOG, "Rex"),
        ("https://img.example/2.jpg", None, ""),
    ]
    assert errors == []


def test_broken_csv_lines_are_collected_with_their_physical_line_numbers():
    text = (
        "url,wnid,license\n"  # 1
        f"https://img.example/1.jpg,{DOG},CC0\n"  # 2
        f"ftp://img.example/2.jpg,{DOG},\n"  # 3
        "not a url,,\n"  # 4
        "\n"  # 5
        "https://img.example/3.jpg,dog,\n"  # 6
        ",n02084071,\n"  # 7
        "https://img.example/4.jpg,,,surplus\n"  # 8
        f"https://{'a' * 2100}.example/5.jpg,,\n"  # 9
        "https://img.example/6.jpg,,\n"  # 10
    )
    rows, errors = parse_url_list(text)
    assert [(r.line, r.url) for r in rows] == [
        (2, "https://img.example/1.jpg"),
        (10, "https://img.example/6.jpg"),
    ]
    reasons = dict(errors)
    assert sorted(reasons) == [3, 4, 6, 7, 8, 9]
    assert "not an http(s) URL" in reasons[3]
    assert "bad wnid 'dog'" in reasons[6]
    assert reasons[7] == "no URL"
    assert "expected at most 3" in reasons[8]
    assert "longer than 2048" in reasons[9]


def test_txt_accepts_url_wnid_url_url_wnid_and_imagenet_image_ids():
    text = (
        "# one URL per line\n"
        "https://img.example/plain.jpg\n"
        f"{DOG} https://img.example/before.jpg\n"
        f"https://img.example/after.jpg\t{DOG}\n"
        # ImageNet's fall11_urls.txt: "<wnid>_<number><TAB><url>"
        f"{TENCH}_10026\thttp://farm1.example/tench.jpg\n"
    )
    rows, errors = parse_url_list(text)
    assert errors == []
    assert [(r.url, r.wnid) for r in rows] == [
        ("https://img.example/plain.jpg", None),
        ("https://img.example/before.jpg", DOG),
        ("https://img.example/after.jpg", DOG),
        ("http://farm1.example/tench.jpg", TENCH),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("javascript:alert(1)", "not an http(s) URL"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("gopher://127.0.0.1:6379/_INFO", "not an http(s) URL"),
        ("img.example/no-scheme.jpg", "not an http(s) URL"),
        ("http:///no-host.jpg", "URL without a host"),
        ("http://img.example:99999/x.jpg", "malformed URL"),
        ("http://[::1/x.jpg", "malformed URL"),
        ("https://x y z", "expected 'url', 'wnid url' or 'url wnid'"),
        ("https://img.example/a.jpg dog", "is neither a wnid nor an image id"),
        ("https://img.example/\x07.jpg", "control characters"),
    ],
)
def test_broken_txt_lines_never_abort_parsing(line, reason):
    rows, errors = parse_url_list(f"https://ok.example/1.jpg\n{line}\nhttps://ok.example/2.jpg\n")
    assert [r.url for r in rows] == ["https://ok.example/1.jpg", "https://ok.example/2.jpg"]
    assert len(errors) == 1 and errors[0][0] == 2
    assert reason in errors[0][1]


def test_a_huge_line_is_an_error_and_parsing_goes_on():
    text = (
        "https://ok.example/1.jpg\n" + "https://" + "x" * 1_000_000 + "\nhttps://ok.example/2.jpg"
    )
    rows, errors = parse_url_list(text, fmt="csv")
    assert [r.line for r in rows] == [1, 3]
    assert errors == [(2, "line longer than 8192 characters")]


def test_unsafe_page_url_is_dropped_but_the_image_kept():
    (row,), errors = parse_url_list("url,page_url\nhttps://img.example/1.jpg,javascript:alert(1)\n")
    assert (row.url, row.page_url, errors) == ("https://img.example/1.jpg", "", [])


def test_source_filters_by_wnid_and_pages(tmp_path):
    path = tmp_path / "list.csv"
    lines = [f"https://img.example/{i}.jpg,{DOG if i % 2 else TENCH}" for i in range(7)]
    path.write_text("\n".join(lines), encoding="utf-8")
    source = UrlListSource(path, page_size=2)
    pages = [source.search("ignored", page, wnid=DOG) for page in (1, 2, 3)]
    assert [[r.image_url for r in page] for page in pages] == [
        ["https://img.example/1.jpg", "https://img.example/3.jpg"],
        ["https://img.example/5.jpg"],
        [],
    ]
    assert [r.rank for r in pages[0]] == [2, 4]  # the line number: stable across runs
    assert all(r.fetch is None and r.wnid == DOG for r in pages[0])


def test_list_naming_synsets_serves_each_only_its_own_rows(tmp_path):
    path = tmp_path / "list.csv"
    rows = [f"https://img.example/{i}.jpg,{DOG if i % 3 == 0 else ''}" for i in range(9)]
    path.write_text("url,wnid\n" + "\n".join(rows), encoding="utf-8")
    source = UrlListSource(path, page_size=10)
    served = [r.image_url for r in source.search("q", 1, wnid=DOG)]
    assert served == [f"https://img.example/{i}.jpg" for i in (0, 3, 6)]
    assert source.search("q", 1, wnid=TENCH) == []
    # Without a synset to select for, the whole list, rows naming none included.
    assert len(source.search("q", 1)) == 9


def test_list_without_wnids_serves_every_synset(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("https://img.example/1.jpg\nhttps://img.example/2.jpg\n")
    assert len(UrlListSource(path).search("q", 1, wnid=DOG)) == 2


def test_txt_suffix_keeps_commas_inside_urls(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("https://img.example/a,b.jpg\n")
    (result,) = UrlListSource(path).search("q", 1)
    assert result.image_url == "https://img.example/a,b.jpg"


def test_bom_crlf_file_and_duplicates_served_once(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(
        b"\xef\xbb\xbfurl,wnid\r\nhttps://img.example/1.jpg,n02084071\r\n"
        b"https://img.example/1.jpg,n02084071\r\nmailto:a@b.example,\r\n"
    )
    source = UrlListSource(path)
    assert [r.image_url for r in source.search("q", 1)] == ["https://img.example/1.jpg"]
    assert [line for line, _ in source.errors] == [4]


def test_invalid_utf8_is_replaced_not_fatal(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"https://img.example/\xff.jpg\nhttps://img.example/ok.jpg\n")
    source = UrlListSource(path)
    assert [r.image_url for r in source.search("q", 1)] == [
        "https://img.example/\ufffd.jpg",
        "https://img.example/ok.jpg",
    ]


def test_missing_file_and_paths_outside_allowed_roots(tmp_path):
    with pytest.raises(SourceError, match="No such file"):
        UrlListSource(tmp_path / "missing.txt")
    with pytest.raises(ConfigurationError, match="outside the allowed folders"):
        UrlListSource("/etc/hostname", allowed_roots=[tmp_path])
