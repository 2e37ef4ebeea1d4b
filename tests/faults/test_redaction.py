"""Issue 13, case 8: secrets in URLs never reach an error, a log line or the terminal.

SAS tokens (``sig=``...), presigned S3 parts (``X-Amz-*``), ``token=``/``key=``
and ``user:PASSWORD@`` in catalog URLs and asset hrefs were printed in one-line
errors and debug logs. The expected redactions below are written out by hand.
"""

from __future__ import annotations

import json
import logging
import pickle
import socket
from pathlib import Path

import pytest
from shapely.geometry import box, mapping

from geomm._redact import RedactingFilter, redact_text, redact_url
from geomm.aoi import aoi_from_geojson
from geomm.cli import main
from geomm.cube import build_cube
from geomm.errors import AssetReadError, CatalogError, SearchError, UntrustedHrefError
from geomm.stac import load_profile, resolve_catalog, search

SECRET = "s3cr3tSIGvalue"
PASSWORD = "hunter2PASSWORD"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (  # Planetary Computer SAS token
            f"https://x.blob.core.windows.net/c/B04.tif?st=2024-01-01T00%3A00Z&se=2024-01-02&sp=rl"
            f"&sv=2021-06-08&sr=c&skoid=ab&sktid=cd&skt=2024&ske=2024&sks=b&skv=2021&sig={SECRET}",
            "https://x.blob.core.windows.net/c/B04.tif?st=REDACTED&se=REDACTED&sp=REDACTED"
            "&sv=REDACTED&sr=REDACTED&skoid=REDACTED&sktid=REDACTED&skt=REDACTED&ske=REDACTED"
            "&sks=REDACTED&skv=REDACTED&sig=REDACTED",
        ),
        (  # S3 presigned, signature v4
            f"https://b.s3.amazonaws.com/k.tif?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
            f"AKIDX%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z"
            f"&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=TOK"
            f"&X-Amz-Signature={SECRET}",
            "https://b.s3.amazonaws.com/k.tif?X-Amz-Algorithm=REDACTED&X-Amz-Credential=REDACTED"
            "&X-Amz-Date=REDACTED&X-Amz-Expires=REDACTED&X-Amz-SignedHeaders=REDACTED"
            "&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED",
        ),
        (  # S3 presigned, signature v2, with an ordinary parameter kept
            f"https://b.s3.amazonaws.com/k.tif?versionId=3&AWSAccessKeyId=AKIDX&Expires=1"
            f"&Signature={SECRET}",
            "https://b.s3.amazonaws.com/k.tif?versionId=3&AWSAccessKeyId=REDACTED&Expires=1"
            "&Signature=REDACTED",
        ),
        (
            f"https://user:{PASSWORD}@stac.example.org:8443/v1?token={SECRET}&limit=10",
            "https://REDACTED@stac.example.org:8443/v1?token=REDACTED&limit=10",
        ),
        (
            f"https://api.example.org/search?key={SECRET}#access_token={SECRET}",
            "https://api.example.org/search?key=REDACTED#access_token=REDACTED",
        ),
        ("https://earth-search.aws.element84.com/v1", "https://earth-search.aws.element84.com/v1"),
        ("s3://eodata/Sentinel-2/x.jp2", "s3://eodata/Sentinel-2/x.jp2"),
        ("/data/cat/B04.tif", "/data/cat/B04.tif"),
    ],
)
def test_redact_url_hides_the_secret_parts_and_keeps_the_rest(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact_text(f"cannot open /vsicurl/{url}: HTTP 403") == (
        f"cannot open /vsicurl/{expected}: HTTP 403"
    )


def test_redact_text_finds_query_strings_and_headers_without_a_scheme() -> None:
    urllib3 = (
        f"HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
        f"/search?sig={SECRET}&limit=100 (Caused by NewConnectionError)"
    )
    assert redact_text(urllib3) == (
        "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
        "/search?sig=REDACTED&limit=100 (Caused by NewConnectionError)"
    )
    logged = "GET http://h/ Headers: {'Accept': '*/*', 'Authorization': 'Basic dXNlcjpwYXNz'}"
    assert redact_text(logged) == (
        "GET http://h/ Headers: {'Accept': '*/*', 'Authorization': 'REDACTED'}"
    )
    signed = f"Authorization: AWS4-HMAC-SHA256 Credential=AKIDX/2024, Signature={SECRET}"
    assert SECRET not in redact_text(signed) and "AKIDX" not in redact_text(signed)


def test_asset_read_errors_name_the_href_without_its_token() -> None:
    href = f"https://x.blob.core.windows.net/c/B04.tif?se=2024&sig={SECRET}"
    reason = f"'/vsicurl/{href}' not recognized as a supported file format"
    e = AssetReadError("S2X", "B04", href, reason)
    for text in (str(e), str(pickle.loads(pickle.dumps(e))), e.href, e.reason):
        assert SECRET not in text
    assert "https://x.blob.core.windows.net/c/B04.tif?se=REDACTED&sig=REDACTED" in str(e)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _aoi_file(tmp_path: Path) -> Path:
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps(mapping(box(11.0, 48.0, 11.01, 48.01))))
    return path


def test_an_unreachable_catalog_is_named_without_its_password_or_token(tmp_path: Path) -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:{_closed_port()}/?sig={SECRET}"
    aoi = aoi_from_geojson(json.loads(_aoi_file(tmp_path).read_text()))
    with pytest.raises(SearchError) as caught:
        search(url, aoi=aoi, start="2024-06-01", end="2024-06-02", collections=["s2"])
    assert "cannot reach STAC API http://REDACTED@127.0.0.1:" in str(caught.value)
    assert PASSWORD not in str(caught.value) and SECRET not in str(caught.value)
    assert PASSWORD not in resolve_catalog(url).label and SECRET not in resolve_catalog(url).label
    with pytest.raises(CatalogError) as typo:
        resolve_catalog(f"htps://user:{PASSWORD}@x.example/?sig={SECRET}")
    assert PASSWORD not in str(typo.value) and SECRET not in str(typo.value)


def _verbose_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """``geomm --verbose search`` of an unreachable catalog with a password and a token."""
    url = f"http://user:{PASSWORD}@127.0.0.1:{_closed_port()}/?sig={SECRET}"
    code = main(
        ["--verbose", "search", "--catalog", url, "--aoi", str(_aoi_file(tmp_path)),
         "--start", "2024-06-01", "--end", "2024-06-02", "--collections", "s2"]
    )  # fmt: skip
    assert code == 1
    return capsys.readouterr()


def test_geomm_verbose_search_prints_and_logs_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    captured = _verbose_search(tmp_path, capsys)
    line = captured.err.strip().splitlines()[-1]  # the error line, after the traceback
    assert line.startswith("error: cannot reach STAC API http://REDACTED@127.0.0.1:"), line
    logs = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert any("/?sig=REDACTED" in text for text in logs)  # the requests were logged, at DEBUG
    for text in (captured.out, line, *logs):
        assert PASSWORD not in text and SECRET not in text, text


def test_geomm_verbose_traceback_shows_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _verbose_search(tmp_path, capsys).err
    assert "Traceback" in err
    assert PASSWORD not in err and SECRET not in err


def test_the_log_filter_redacts_arguments_and_tracebacks() -> None:
    try:
        raise OSError(f"GET https://h/x?sig={SECRET} failed")
    except OSError:
        import sys

        record = logging.LogRecord(
            "urllib3", logging.DEBUG, __file__, 1, "%s %s", ("GET", f"https://h/?sig={SECRET}"),
            sys.exc_info(),
        )  # fmt: skip
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "GET https://h/?sig=REDACTED"
    assert SECRET not in logging.Formatter().format(record)


def test_an_untrusted_href_is_named_redacted(stac_api) -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "stac" / "planetary-computer"
    item = json.loads(
        (
            data / "sentinel-2-l2a" / "S2B_MSIL2A_20200705T101559_R065_T32TMT_20200825T083452.json"
        ).read_text()
    )
    item["assets"]["B04"]["href"] = f"file:///etc/passwd?sig={SECRET}"
    url = stac_api([json.loads((data / "sentinel-2-l2a" / "collection.json").read_text())], [item])
    west, south, east, north = item["bbox"]
    aoi = aoi_from_geojson(json.loads(json.dumps(mapping(box(8.4, 47.3, 8.41, 47.31)))))
    with pytest.raises(UntrustedHrefError) as caught:
        search(url, aoi=aoi, start="2020-07-05", end="2020-07-05", collections=["sentinel-2-l2a"])
    assert "file:///etc/passwd?sig=REDACTED" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_failed_read_of_a_signed_href_prints_no_token(tmp_path: Path) -> None:
    """Through the reader (both AssetReadError sites): the asset's server is gone."""
    from geomm.sample import SyntheticConfig, generate_synthetic_region
    from geomm.stac import CatalogSource
    from tests.cube.conftest import SMALL_BOUNDS

    folder = tmp_path / "region"
    generate_synthetic_region(
        folder,
        SyntheticConfig(
            bounds=SMALL_BOUNDS, s2_dates=("2024-06-03T10:20:31Z",),
            s1_dates=("2024-06-05T05:35:12Z",), cloudy_dates=(), clouds=False,
        ),
    )  # fmt: skip
    source = CatalogSource(profile=load_profile("sample"), path=folder / "catalog.json")
    aoi = aoi_from_geojson(json.loads(json.dumps(mapping(box(*SMALL_BOUNDS)))))
    items = list(search(source, aoi=aoi, start="2024-06-01", end="2024-06-10").items)
    gone = f"http://127.0.0.1:{_closed_port()}"
    for keep_proj in (True, False):  # window read (proj:* known), header read (not)
        moved = []
        for item in items:
            copy = item.clone()
            for key, asset in copy.assets.items():
                asset.href = f"{gone}/{item.id}/{key}.tif?se=2030&sig={SECRET}"
                if not keep_proj:
                    for field in ("proj:shape", "proj:transform"):
                        asset.extra_fields.pop(field, None)
                        copy.properties.pop(field, None)
            moved.append(copy)
        with pytest.raises(AssetReadError) as caught:
            build_cube(moved, aoi=aoi, profile=source.profile).load()
        assert SECRET not in str(caught.value), str(caught.value)
        assert "?se=REDACTED&sig=REDACTED" in str(caught.value)
