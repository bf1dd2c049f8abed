"""The landing page links the latest ``rosetta bench`` report when this machine has one."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.server import live_server


def test_the_landing_page_links_the_report_only_when_there_is_one(tmp_path: Path) -> None:
    report = tmp_path / "bench.html"
    with live_server(styles="rest", bench_report=str(report)) as server:
        assert 'href="/bench"' not in httpx.get(server.base_url + "/").text
        missing = httpx.get(server.base_url + "/bench", headers={"accept-language": "fr"})
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        report.write_text("<!doctype html><title>rosetta bench</title><svg></svg>")
        assert 'href="/bench"' in httpx.get(server.base_url + "/").text
        page = httpx.get(server.base_url + "/bench")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<svg></svg>" in page.text
