"""Container health check of `fenghuo serve`: GET a health route on the API's own port.

Usage: python healthcheck.py /healthz   (liveness)   or   /readyz   (readiness)

The port comes from the platform's settings (FENGHUO_API_PORT), the same value `fenghuo serve`
listens on, so the check and the server cannot disagree. Exit 0 when the route answers 200,
1 otherwise (with the reason on stderr), as Docker's HEALTHCHECK expects.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

ROUTES = ("/healthz", "/readyz")


def main(argv: list[str]) -> int:
    route = argv[1] if len(argv) > 1 else "/healthz"
    if route not in ROUTES:
        sys.stderr.write(f"unknown health route {route!r}; expected one of {ROUTES}\n")
        return 2
    from fenghuo.settings import get_settings

    url = f"http://127.0.0.1:{get_settings().api_port}{route}"
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:
            status = int(answer.status)
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"{url}: {exc}\n")
        return 1
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
