"""bench/load.lua and bench/wrk.py: every answer is checked and counted, on a real wrk run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.wrk import WrkResult, WrkRun, find_wrk, merge

pytestmark = pytest.mark.slow


class _Handler(BaseHTTPRequestHandler):
    """200 allow for "ok", 200 deny for "deny", 500 (with allow in the body) for "error"."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status, text = {
            b'"ok"': (200, b'{"allow":true}'),
            b'"deny"': (200, b'{"allow":false}'),
        }.get(body, (500, b'{"allow":true,"error":"boom"}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/decide"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _run(url: str, bodies: Path, *, offset: int = 0) -> WrkResult:
    wrk = find_wrk()
    if wrk is None:
        pytest.skip("wrk is not installed: run `make bench-deps` (apt-get install -y wrk)")
    run = WrkRun(
        wrk, url, connections=1, duration=1, expect='"allow":true', bodies=bodies, offset=offset
    )
    try:
        return run.result()
    finally:
        run.kill()


class TestWrkRun:
    def test_counts_every_wrong_status_and_body_as_a_failure(
        self, server: str, tmp_path: Path
    ) -> None:
        bodies = tmp_path / "bodies.jsonl"
        bodies.write_text('"ok"\n"deny"\n"error"\n')
        result = _run(server, bodies)
        # one connection: answers come in body order, ok, deny, error, ok, ...
        assert result.answers > 100
        assert result.failures == result.answers - (result.answers + 2) // 3
        assert result.first_failure == '200 {"allow":false}'
        # wrk adds coordinated-omission samples to the histogram; the percentiles
        # printed are the ones wrk itself reports
        assert sum(count for _, count in result.histogram) >= result.answers
        assert (result.percentile_ms(50), result.percentile_ms(99)) == result.wrk_percentiles_ms
        assert 0 < result.percentile_ms(50) <= result.percentile_ms(99)

    def test_starts_at_the_offset(self, server: str, tmp_path: Path) -> None:
        bodies = tmp_path / "bodies.jsonl"
        bodies.write_text('"deny"\n"ok"\n')
        result = _run(server, bodies, offset=1)  # ok, deny, ok, ...
        assert result.failures == result.answers // 2

    def test_merged_runs_add_rates_and_histograms(self) -> None:
        a = WrkResult(rate=10.0, answers=3, failures=0, histogram=((1000, 2), (3000, 1)))
        b = WrkResult(
            rate=5.0,
            answers=2,
            failures=1,
            histogram=((1000, 1), (2000, 1)),
            first_failure="500 boom",
        )
        merged = merge([a, b])
        assert (merged.rate, merged.answers, merged.failures) == (15.0, 5, 1)
        assert merged.histogram == ((1000, 3), (2000, 1), (3000, 1))
        assert merged.first_failure == "500 boom"
        assert (merged.percentile_ms(50), merged.percentile_ms(99)) == (1.0, 3.0)
