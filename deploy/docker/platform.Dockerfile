# syntax=docker/dockerfile:1
# The platform image: one image, one process per container, chosen by the command
# (`fenghuo serve` = API + console + TAXII + ingest gateway; `fenghuo correlate`; `fenghuo archive`;
# `fenghuo feed follow`; one-off `fenghuo keys create ...`). Build from the repository root:
#   docker build -f deploy/docker/platform.Dockerfile -t fenghuo:0.1.0 .
# The package and every dependency are installed under the pins of requirements/lock.txt.

ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/lock.txt requirements/lock.txt
COPY fenghuo fenghuo
# fenghuo/ui is a symlink to the top-level ui/ (the console's static files).
COPY ui ui
RUN python -m venv /opt/fenghuo/venv \
 && /opt/fenghuo/venv/bin/pip install pip==26.3 \
 && /opt/fenghuo/venv/bin/pip install -c requirements/lock.txt .

FROM ${PYTHON_IMAGE}
# A fixed non-root uid/gid, so that volume permissions and Kubernetes' runAsUser agree.
RUN groupadd --system --gid 10001 fenghuo \
 && useradd --system --uid 10001 --gid fenghuo --home-dir /var/lib/fenghuo --create-home fenghuo
COPY --from=build /opt/fenghuo/venv /opt/fenghuo/venv
COPY deploy/docker/healthcheck.py /opt/fenghuo/healthcheck.py
ENV PATH=/opt/fenghuo/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FENGHUO_DATA_DIR=/var/lib/fenghuo \
    FENGHUO_API_HOST=0.0.0.0 \
    FENGHUO_API_PORT=8080
USER 10001:10001
WORKDIR /var/lib/fenghuo
VOLUME ["/var/lib/fenghuo"]
EXPOSE 8080
# Liveness of `fenghuo serve` (the other commands have no HTTP endpoint: compose and Kubernetes
# turn the check off for them and rely on the process exiting on failure).
HEALTHCHECK --interval=15s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "/opt/fenghuo/healthcheck.py", "/healthz"]
ENTRYPOINT ["fenghuo"]
CMD ["serve"]
