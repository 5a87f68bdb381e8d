"""The console overview's paint in a real browser, on the store of `bench.console_bench`.

Goal (issue 10): the overview's first meaningful paint under 1 s with 1,000,000 alerts and
50,000 incidents in the SQLite store. The overview (`ui/js/views/overview.js`) sets two
performance marks: `fenghuo:overview-meaningful` once the headline figures (open incidents by
grade and severity, alerts in the last hour, events/s) and the rate chart show what the API
answered, and `fenghuo:overview-complete` once every panel is filled. This benchmark reads them.

The store is `bench.console_bench`'s (same generator, same cache under `--cache`; seeding 1M
alerts takes a few minutes the first time). The server is the real one
(`fenghuo.platform.ApiServer`, uvicorn, the console at `/`) in a process of its own, as in
`bench.api_bench`. Debian's Chromium (headless, through Playwright) opens `/#/overview` with the
key in sessionStorage, as the login form leaves it (an init script sets the session object
that `ui/js/views/login.js` builds from `/whoami`), for an admin and for a tenant viewer.

Each load: a new browser context (empty HTTP cache and storage) opens the page ("cold"), then
the same page is reloaded ("warm": static files from the HTTP cache). Times are from navigation
start (the page's time origin): first contentful paint (PerformanceObserver `paint`), the two
marks, and each API request's end (resource timing), to see which request holds a mark back.
One untimed load per role first.

Run: `.venv/bin/python -m bench.console_paint` (`--loads N`, `--json`; `--quick` for a smoke
run on 20,000 alerts and 1,000 incidents).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from bench.api_bench import server
from bench.common import machine, percentile, table
from bench.console_bench import TENANTS, data_dir_of, prepared, viewer_token
from fenghuo.demo.samples import demo_inventory_path

CHROMIUM = Path("/usr/bin/chromium")
# As tests/ui/conftest.py starts it (Playwright adds --headless and its own profile).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MEANINGFUL = "fenghuo:overview-meaningful"
COMPLETE = "fenghuo:overview-complete"
SESSION_KEY = "fenghuo.session"  # ui/js/api.js
VIEWER_TENANT = TENANTS[-1]  # hooli, as in bench.api_bench

# Runs before the page's own scripts on every navigation (reloads included).
INIT_SCRIPT = """
(([key, session]) => {
  try { sessionStorage.setItem(key, session); } catch (e) { /* opaque origin */ }
  window.__fenghuoFcp = null;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.name === 'first-contentful-paint') window.__fenghuoFcp = e.startTime;
      }
    }).observe({ type: 'paint', buffered: true });
  } catch (e) { /* no paint timing */ }
})
"""

COLLECT = """
([meaningful, complete]) => {
  const mark = (n) => {
    const e = performance.getEntriesByName(n, 'mark')[0];
    return e ? e.startTime : null;
  };
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const api = performance.getEntriesByType('resource')
    .filter((r) => r.name.includes('/api/v1/') && !r.name.includes('/api/v1/stream'))
    .map((r) => ({ url: r.name, start: r.startTime, end: r.responseEnd }));
  return {
    meaningful: mark(meaningful), complete: mark(complete),
    fcp: window.__fenghuoFcp ?? (paint ? paint.startTime : null), api,
  };
}
"""


@dataclass
class Load:
    role: str
    kind: str  # cold | warm
    fcp_ms: float
    meaningful_ms: float
    complete_ms: float
    api: list[dict[str, Any]] = field(default_factory=list)  # url, start, end (ms)


def session_of(base_url: str, token: str) -> dict[str, Any]:
    """The session object the login form stores for this key (ui/js/views/login.js)."""
    response = httpx.get(
        f"{base_url}/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    response.raise_for_status()
    w = response.json()
    return {
        "key": token,
        "role": w["role"],
        "name": w.get("name") or "",
        "tenant": w.get("tenant"),
        "id": w.get("id"),
        "can_triage": bool(w.get("can_triage")),
        "can_admin": bool(w.get("can_admin")),
        "reads": w.get("reads"),
    }


def measure(page: Page, role: str, kind: str, timeout_ms: float) -> Load:
    page.wait_for_function(
        "(name) => performance.getEntriesByName(name, 'mark').length > 0",
        arg=COMPLETE,
        timeout=timeout_ms,
    )
    got: dict[str, Any] = page.evaluate(COLLECT, [MEANINGFUL, COMPLETE])
    if got["meaningful"] is None or got["fcp"] is None:
        msg = f"{role} {kind}: a mark is missing: {got}"
        raise AssertionError(msg)
    return Load(role, kind, got["fcp"], got["meaningful"], got["complete"], got["api"])


def loads(
    browser: Browser, url: str, role: str, session: dict[str, Any], n: int, timeout_ms: float
) -> list[Load]:
    """One untimed load, then n cold loads each followed by a warm reload."""
    found: list[Load] = []
    errors: list[str] = []
    for i in range(n + 1):
        context = browser.new_context()
        try:
            args = json.dumps([SESSION_KEY, json.dumps(session)])
            context.add_init_script(f"{INIT_SCRIPT}({args})")
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{url}/#/overview", wait_until="commit")
            cold = measure(page, role, "cold", timeout_ms)
            page.reload(wait_until="commit")
            warm = measure(page, role, "warm", timeout_ms)
        finally:
            context.close()
        if errors:
            msg = f"{role}: the page logged errors: {errors}"
            raise AssertionError(msg)
        if i:
            found += [cold, warm]
        print(
            f"  {role:<13} load {i:>2}{' (untimed)' if not i else ''}: cold meaningful"
            f" {cold.meaningful_ms:6.0f} ms, complete {cold.complete_ms:6.0f} ms;"
            f" warm {warm.meaningful_ms:6.0f} / {warm.complete_ms:6.0f} ms"
        )
    return found


def request_kind(url: str) -> str:
    """An API request without its values, except those that tell requests apart."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query)
    shown = {"bucket", "limit"}
    names = sorted({k if k not in shown else f"{k}={v}" for k, v in params if k != "cursor"})
    pages = sum(1 for k, _ in params if k == "cursor")
    path = parts.path.removeprefix("/api/v1")
    return f"{path} {' '.join(names)}".strip() + (" (next page)" if pages else "")


def summary(found: list[Load]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    paint_rows: list[tuple[object, ...]] = []
    api_rows: list[tuple[object, ...]] = []
    for role in dict.fromkeys(x.role for x in found):
        for kind in ("cold", "warm"):
            chosen = [x for x in found if x.role == role and x.kind == kind]
            if not chosen:
                continue
            row: list[object] = [role, kind, len(chosen)]
            for values in (
                [x.fcp_ms for x in chosen],
                [x.meaningful_ms for x in chosen],
                [x.complete_ms for x in chosen],
            ):
                row += [f"{percentile(values, 50):.0f}", f"{percentile(values, 95):.0f}"]
                row.append(f"{max(values):.0f}")
            paint_rows.append(tuple(row))
        cold = [x for x in found if x.role == role and x.kind == "cold"]
        by_kind: dict[str, list[tuple[float, float]]] = {}
        for load in cold:
            for r in load.api:
                by_kind.setdefault(request_kind(r["url"]), []).append(
                    (r["end"] - r["start"], r["end"])
                )
        ordered = sorted(by_kind.items(), key=lambda kv: percentile([e for _, e in kv[1]], 50))
        for name, times in ordered:
            durations = [d for d, _ in times]
            ends = [e for _, e in times]
            api_rows.append(
                (
                    role,
                    name,
                    len(times),
                    f"{percentile(durations, 50):.0f}",
                    f"{percentile(durations, 95):.0f}",
                    f"{percentile(ends, 50):.0f}",
                )
            )
    return paint_rows, api_rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--incidents", type=int, default=None, help="default 50,000")
    parser.add_argument("--loads", type=int, default=None, help="cold loads per role (15)")
    parser.add_argument("--quick", action="store_true", help="20,000 alerts, 1,000 incidents")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per load at most")
    parser.add_argument("--cache", type=Path, default=Path("var/bench-console"))
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n_alerts = args.alerts or (20_000 if args.quick else 1_000_000)
    n_incidents = args.incidents or (1_000 if args.quick else 50_000)
    n_loads = args.loads or (3 if args.quick else 15)
    if not CHROMIUM.exists():
        print(f"Debian's Chromium is missing at {CHROMIUM}: apt-get install -y chromium")
        return 2
    admin = prepared(args.cache, n_alerts, n_incidents, args.fresh)
    data_dir = data_dir_of(args.cache, n_alerts, n_incidents)
    tokens = {"admin": admin, "tenant_viewer": viewer_token(data_dir, VIEWER_TENANT)}
    found: list[Load] = []
    began = time.perf_counter()
    with server(data_dir, demo_inventory_path()) as api, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for role, token in tokens.items():
                session = session_of(api.url, token)
                found += loads(browser, api.url, role, session, n_loads, args.timeout * 1000)
        finally:
            browser.close()
    paint_rows, api_rows = summary(found)
    facts = machine() | {"alerts": str(n_alerts), "incidents": str(n_incidents)}
    if args.json:
        print(json.dumps({"machine": facts, "loads": [asdict(x) for x in found]}, indent=2))
        return 0
    print(json.dumps(facts))
    print(f"{len(found)} loads in {time.perf_counter() - began:.0f} s")
    headers = (
        "role", "load", "n", "FCP p50", "p95", "max",
        "meaningful p50", "p95", "max", "complete p50", "p95", "max",
    )  # fmt: skip
    print(table(headers, paint_rows))
    print("\nAPI requests of the cold loads (ms from navigation start):")
    print(table(("role", "request", "n", "took p50", "p95", "ended p50"), api_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
