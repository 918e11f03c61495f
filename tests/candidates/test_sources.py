"""Source adapters: folder/archives (with path traversal attempts), URL lists (broken lines, BOM),
S3 against moto's server on 127.0.0.1, and the web APIs against a local HTTP server answering in
each provider's documented JSON shape."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto.server import ThreadedMotoServer

from candidates.sources.base import ConfigurationError, SourceError
from candidates.sources.flickr import FlickrSource
from candidates.sources.folder import LocalFolderSource
from candidates.sources.openverse import OpenverseSource
from candidates.sources.registry import build_source
from candidates.sources.s3 import S3PrefixSource
from candidates.sources.urllist import UrlListSource, parse_url_list
from candidates.sources.wikimedia import WikimediaCommonsSource
from tests.factories import jpeg_bytes

WNID = "n02084071"


# --- folder and archives ---------------------------------------------------------------------


def test_folder_recurses_and_selects_by_wnid(tmp_path):
    (tmp_path / WNID).mkdir()
    (tmp_path / WNID / "a.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "n01440764_tench.JPEG").write_bytes(jpeg_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    source = LocalFolderSource(tmp_path)
    dog = source.search("ignored", 1, wnid=WNID)
    assert [r.image_url for r in dog] == [f"folder:{WNID}/a.jpg"]
    assert dog[0].fetch() == (tmp_path / WNID / "a.jpg").read_bytes()
    assert source.search("ignored", 2, wnid=WNID) == []


def test_folder_without_wnids_serves_every_synset(tmp_path):
    (tmp_path / "x.png").write_bytes(b"fake")
    assert len(LocalFolderSource(tmp_path).search("q", 1, wnid=WNID)) == 1


def test_zip_slip_and_absolute_members_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("good.jpg", jpeg_bytes())
        archive.writestr("../../evil.jpg", jpeg_bytes())
        archive.writestr("/etc/evil.jpg", jpeg_bytes())
    source = LocalFolderSource(tmp_path)
    results = source.search("q", 1)
    assert [r.image_url for r in results] == ["folder:a.zip!good.jpg"]
    assert results[0].fetch() == jpeg_bytes()
    assert len(source.skipped) == 2


def test_tar_symlinks_and_traversal_are_refused(tmp_path):
    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as archive:
        data = jpeg_bytes()
        for name in ("ok.jpg", "../up.jpg"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link.jpg")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    source = LocalFolderSource(tmp_path)
    assert [r.image_url for r in source.search("q", 1)] == ["folder:a.tar.gz!ok.jpg"]


def test_symlinked_files_in_the_folder_are_not_followed(tmp_path):
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg_bytes())
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.jpg").symlink_to(outside)
    assert LocalFolderSource(root).search("q", 1) == []


def test_oversized_member_is_read_only_up_to_the_cap(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.jpg", b"\0" * 5_000_000)
    result = LocalFolderSource(tmp_path, max_bytes=1000).search("q", 1)[0]
    assert len(result.fetch()) == 1001


# --- URL lists -------------------------------------------------------------------------------


def test_csv_with_bom_header_and_broken_lines():
    text = (
        "\ufeffurl,wnid,license\r\n"
        f"https://a.example/1.jpg,{WNID},CC BY 4.0\r\n"
        "ftp://a.example/2.jpg,n02084071,\r\n"
        "not a url,,\r\n"
        "\r\n"
        "https://a.example/3.jpg,dog,\r\n"
        "https://b.example/4.jpg,,\r\n"
    )
    rows, errors = parse_url_list(text)
    assert [(r.url, r.wnid, r.license) for r in rows] == [
        ("https://a.example/1.jpg", WNID, "CC BY 4.0"),
        ("https://b.example/4.jpg", None, ""),
    ]
    assert [line for line, _ in errors] == [3, 4, 6]


def test_txt_with_optional_wnid_and_comments(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text(
        f"# comment\nhttps://a.example/1.jpg\n{WNID} https://a.example/2.jpg\n"
        f"https://a.example/3.jpg n01440764\njavascript:alert(1)\nhttps://x y z\n"
    )
    source = UrlListSource(path)
    assert [r.image_url for r in source.search("q", 1, wnid=WNID)] == ["https://a.example/2.jpg"]
    assert len(source.errors) == 2


# --- S3 --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip
    client.create_bucket(Bucket="images")
    for index in range(5):
        client.put_object(Bucket="images", Key=f"set/{WNID}/{index}.jpg", Body=jpeg_bytes())
    client.put_object(Bucket="images", Key="set/n01440764/x.jpg", Body=jpeg_bytes())
    client.put_object(Bucket="images", Key="set/readme.txt", Body=b"hi")
    client.put_object(Bucket="images", Key="other/y.jpg", Body=jpeg_bytes())
    yield endpoint, client
    server.stop()


def test_s3_prefix_lists_pages_and_reads(s3):
    endpoint, client = s3
    source = S3PrefixSource(bucket="images", prefix="set/", client=client)
    source.page_size = 2
    pages = [source.search("q", page, wnid=WNID) for page in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert pages[0][0].image_url == f"s3://images/set/{WNID}/0.jpg"
    assert pages[0][0].fetch() == jpeg_bytes()


def test_s3_endpoint_on_a_private_address_is_refused():
    with pytest.raises(ConfigurationError, match="refused"):
        S3PrefixSource(bucket="b", endpoint_url="http://169.254.169.254/")
    with pytest.raises(ConfigurationError):
        build_source("s3", {"bucket": "b", "endpoint_url": "http://127.0.0.1:9000"})


# --- web APIs --------------------------------------------------------------------------------


class _Api(BaseHTTPRequestHandler):
    routes: dict = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        _Api.last_params = params
        status, body = self.routes[parts.path](params)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _openverse_page(params):
    page = int(params["page"])
    if page > 2:
        return 200, {"result_count": 3, "page_count": 2, "page": page, "results": []}
    results = [
        {"id": f"id-{page}-{i}", "title": f"Dog {page}.{i}", "url": f"https://img.example/{page}/{i}.jpg",
         "foreign_landing_url": f"https://flickr.example/{page}/{i}", "creator": "Ann",
         "license": "by", "license_version": "2.0",
         "attribution": f'"Dog {page}.{i}" by Ann is licensed under CC BY 2.0.'}
        for i in range(2 if page == 1 else 1)
    ]  # fmt: skip
    return 200, {"result_count": 3, "page_count": 2, "page": page, "results": results}


def test_openverse_results_and_pagination(api):
    _Api.routes = {"/v1/images/": _openverse_page}
    source = OpenverseSource(api, allow_loopback=True)
    first = source.search("dog", 1)
    assert [r.image_url for r in first] == [
        "https://img.example/1/0.jpg",
        "https://img.example/1/1.jpg",
    ]
    assert first[0].license == "BY 2.0" and "Ann" in first[0].attribution
    assert first[0].page_url == "https://flickr.example/1/0"
    assert _Api.last_params["q"] == "dog"
    assert len(source.search("dog", 2)) == 1 and source.search("dog", 3) == []


def test_wikimedia_commons_shape(api):
    def page(pageid, index, title, url, license_name, artist):
        return {
            "pageid": pageid, "ns": 6, "title": title, "index": index,
            "imageinfo": [{
                "url": url, "descriptionurl": url.replace("upload", "commons"),
                "extmetadata": {"LicenseShortName": {"value": license_name},
                                "Artist": {"value": artist}},
            }],
        }  # fmt: skip

    def answer(params):
        assert params["generator"] == "search" and params["gsrnamespace"] == "6"
        pages = {
            "2": page(2, 2, "File:Dog b.jpg", "https://upload.example/b.jpg", "CC0",
                      "<a href='x'>Bo</a>"),
            "1": page(1, 1, "File:Dog a.jpg", "https://upload.example/a.jpg", "CC BY-SA 4.0",
                      "Al &amp; Co"),
        }  # fmt: skip
        return 200, {"batchcomplete": "", "continue": {"gsroffset": 50}, "query": {"pages": pages}}

    _Api.routes = {"/w/api.php": answer}
    results = WikimediaCommonsSource(f"{api}/w/api.php", allow_loopback=True).search("dog", 1)
    assert [r.title for r in results] == ["Dog a.jpg", "Dog b.jpg"]
    assert results[0].license == "CC BY-SA 4.0" and results[0].attribution == "Al & Co"
    assert results[1].attribution == "Bo"
    assert _Api.last_params["gsroffset"] == "0"


def test_flickr_needs_a_key_and_maps_licenses(api):
    with pytest.raises(ConfigurationError, match="FLICKR_API_KEY"):
        FlickrSource("")

    def answer(params):
        if params["api_key"] != "k":
            return 200, {
                "stat": "fail",
                "code": 100,
                "message": "Invalid API Key (Key has invalid format)",
            }
        return 200, {"photos": {"page": 1, "pages": 1, "perpage": 100, "total": 1, "photo": [
            {"id": "5", "owner": "12@N01", "secret": "s", "server": "1", "title": "A dog",
             "ispublic": 1, "license": "4", "ownername": "Cy", "url_l": "https://live.example/5_l.jpg"}
        ]}, "stat": "ok"}  # fmt: skip

    _Api.routes = {"/services/rest/": answer}
    source = FlickrSource("k", api_url=f"{api}/services/rest/", allow_loopback=True)
    (photo,) = source.search("dog", 1)
    assert photo.license == "CC BY 2.0" and photo.attribution == "Cy"
    assert photo.page_url == "https://www.flickr.com/photos/12@N01/5"
    assert source.search("dog", 2) == []
    with pytest.raises(SourceError, match="Invalid API Key"):
        FlickrSource("bad", api_url=f"{api}/services/rest/", allow_loopback=True).search("d", 1)


def test_http_errors_and_bad_json_are_source_errors(api):
    _Api.routes = {"/v1/images/": lambda p: (500, {"detail": "boom"})}
    with pytest.raises(SourceError, match="HTTP 500"):
        OpenverseSource(api, allow_loopback=True).search("dog", 1)
    _Api.routes = {"/v1/images/": lambda p: (200, b"<html>")}
    with pytest.raises(SourceError, match="not JSON"):
        OpenverseSource(api, allow_loopback=True).search("dog", 1)


def test_web_api_on_loopback_is_refused_by_default(api):
    with pytest.raises(ConfigurationError, match="refused"):
        OpenverseSource(api).search("dog", 1)
