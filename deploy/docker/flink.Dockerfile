# syntax=docker/dockerfile:1
# The detection job's image: the official Flink 2.0 image (Flink 2.0.2, the version of PyFlink's
# apache-flink==2.0.2) with Python 3.11, the fenghuo package (PyFlink included) and the Kafka
# connector jars in /opt/flink/lib. The same image runs the JobManager (application mode: it runs
# `python -m fenghuo.streaming.job`) and the TaskManagers. Build from the repository root:
#   docker build -f deploy/docker/flink.Dockerfile -t fenghuo-flink:0.1.0 .

FROM flink:2.0.2-scala_2.12-java17

USER root
# The base is Ubuntu 22.04 (eclipse-temurin:17-jre-jammy); its universe has Python 3.11.
# libpython3.11 is what PyFlink's thread mode (pemja) embeds in the TaskManager's JVM.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3.11 python3.11-venv libpython3.11 \
        ca-certificates wget; \
    rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/lock.txt requirements/lock.txt
COPY fenghuo fenghuo
COPY ui ui
RUN set -eux; \
    python3.11 -m venv /opt/fenghuo/venv; \
    /opt/fenghuo/venv/bin/pip install --no-cache-dir pip==26.3; \
    /opt/fenghuo/venv/bin/pip install --no-cache-dir -c requirements/lock.txt .; \
    rm -rf /src

# Flink's Kafka connector for Flink 2.0 and the kafka-clients it is built against, from Maven
# Central, each checked against its sha256 (the same pins as fenghuo/maven/flink-kafka/jars.lock;
# tests/deploy checks that they agree). Path under the repository, then sha256.
ARG MAVEN_REPO=https://repo.maven.apache.org/maven2
RUN set -eux; \
    cd /opt/flink/lib; \
    for pin in \
        "org/apache/flink/flink-connector-kafka/4.0.1-2.0/flink-connector-kafka-4.0.1-2.0.jar 842885a51c768b2f31c946a2071656c166ee8cc6d3c02fe6c557e134e03bf228" \
        "org/apache/kafka/kafka-clients/3.9.1/kafka-clients-3.9.1.jar 7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9" \
    ; do \
        set -- $pin; \
        wget -nv -O "$(basename "$1")" "$MAVEN_REPO/$1"; \
        echo "$2  $(basename "$1")" | sha256sum -c -; \
    done; \
    chown flink:flink ./*.jar

# Flink's Python support must be on the cluster's own classpath: the JobManager deserialises the
# job's Python operators before any user code is loaded (without it: ClassNotFoundException
# EmbeddedPythonKeyedProcessOperator, found by tests/deploy/test_application_mode.py).
RUN cp /opt/flink/opt/flink-python-*.jar /opt/flink/lib/ && chown flink:flink /opt/flink/lib/flink-python-*.jar

# The job names the connector jars in pipeline.jars (fenghuo.streaming.flink_env.kafka_jars);
# install the verified jars where it looks, so that it never needs Maven at run time.
COPY deploy/docker/register_jars.py /opt/fenghuo/register_jars.py
RUN /opt/fenghuo/venv/bin/python /opt/fenghuo/register_jars.py /opt/flink/lib

# The Python that PyFlink runs, on the JobManager (client) and the TaskManagers (workers);
# thread mode's interpreter inside the JVM does not read .pth files, so it gets site-packages
# through PYTHONPATH.
ENV FENGHUO_FLINK_PYTHON=/opt/fenghuo/venv/bin/python \
    PYTHONPATH=/opt/fenghuo/venv/lib/python3.11/site-packages \
    PYTHONUNBUFFERED=1 \
    FENGHUO_DATA_DIR=/opt/flink/fenghuo
RUN install -d -o flink -g flink /opt/flink/fenghuo /opt/flink/checkpoints

WORKDIR /opt/flink
USER flink
