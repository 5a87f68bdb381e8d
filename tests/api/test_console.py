"""The console's static files at `/`: headers (CSP, nosniff, no-referrer, revalidation), MIME
types of ES modules, deep links, and the API's own paths keeping precedence. A temporary `ui`
directory stands in for the real one, so these tests do not depend on the page's contents."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fenghuo.api.console import console_dir
from fenghuo.api.deps import Services
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.platform import ApiServer
from fenghuo.settings import Settings
from fenghuo.store.sqlite import SqliteStore

INDEX = '<!doctype html><html><head><script type="module" src="/js/app.js"></script></head></html>'


def make_ui(root: Path) -> Path:
    ui = root / "ui"
    (ui / "js").mkdir(parents=True)
    (ui / "css").mkdir()
    (ui / "vendor" / "uplot").mkdir(parents=True)
    (ui / "index.html").write_text(INDEX)
    (ui / "js" / "app.js").write_text("export const x = 1;\n")
    (ui / "css" / "app.css").write_text("body { color: black; }\n")
    (ui / "vendor" / "uplot" / "uPlot.esm.mjs").write_text("export default 1;\n")
    (ui / "vendor" / "vendor.py").write_text("print('tooling')\n")
    return ui


@contextmanager
def served(tmp_path: Path, console: Path) -> Iterator[httpx.Client]:
    """The API with this console directory, over uvicorn on a loopback port."""
    settings = Settings(data_dir=tmp_path / "var", pseudonym_key="test-pseudonym-key")
    store = SqliteStore(settings.db_path)
    services = Services(settings, store, None, lambda: True, console=console)
    server = ApiServer(services, "127.0.0.1", free_port())
    server.start()
    try:
        url = f"http://127.0.0.1:{server.server.config.port}"
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        server.stop()
        store.close()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    with served(tmp_path, make_ui(tmp_path)) as running:
        yield running


def test_index_at_the_root_with_strict_headers(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data: blob:",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"]


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/js/app.js", "text/javascript; charset=utf-8"),
        ("/vendor/uplot/uPlot.esm.mjs", "text/javascript; charset=utf-8"),
        ("/css/app.css", "text/css; charset=utf-8"),
    ],
)
def test_static_files_have_their_mime_types(client: httpx.Client, path: str, media: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == media
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_revalidation_answers_304(client: httpx.Client) -> None:
    etag = client.get("/js/app.js").headers["etag"]
    again = client.get("/js/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["cache-control"] == "no-cache"


def test_deep_links_load_the_page_and_missing_files_are_404(client: httpx.Client) -> None:
    assert client.get("/alerts").text == INDEX
    assert client.get("/js/missing.js").status_code == 404
    assert client.get("/vendor/vendor.py").status_code == 404  # tooling is not served


def test_the_api_keeps_precedence(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/nothing-here").status_code == 404
    assert (
        client.get("/api/v1/nothing-here")
        .headers["content-type"]
        .startswith("application/problem+json")
    )
    assert client.get("/metrics").status_code == 200
    assert client.get("/taxii2/").status_code in (401, 406)


def test_the_console_ships_in_the_package() -> None:
    assert console_dir().name == "ui"
    assert console_dir().is_dir()


def test_without_the_page_the_root_says_so_and_the_api_is_unchanged(tmp_path: Path) -> None:
    with served(tmp_path, tmp_path / "no-ui") as bare:
        root = bare.get("/")
        assert root.status_code == 404
        assert "not installed" in root.text
        assert root.headers["x-content-type-options"] == "nosniff"
        missing = bare.get("/api/v1/nothing-here")
        assert missing.headers["content-type"].startswith("application/problem+json")
