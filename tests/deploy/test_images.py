"""Images: every one pinned (an exact version tag or a digest, never `latest`), ours tagged with
the package version, the Flink image matching PyFlink's Flink and carrying the connector jars of
fenghuo/maven/flink-kafka/jars.lock, both images running as a non-root user."""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

from fenghuo import __version__
from fenghuo.maven_jars import load_jar_sets
from fenghuo.streaming.flink_env import KAFKA_JAR_SET
from tests.deploy import manifests as m

PINNED = re.compile(r"^[a-z0-9.\-/]+:(\d+\.\d+\.\d+[\w.\-]*)$|^[a-z0-9.\-/:]+@sha256:[0-9a-f]{64}$")
OURS = {"fenghuo", "fenghuo-flink"}
FLINK_VERSION = metadata.version("apache-flink")


def _k8s_images() -> list[str]:
    images: list[str] = []
    for _, spec in m.pod_specs():
        for container in spec.get("initContainers", []) + spec["containers"]:
            images.append(container["image"])
    images.extend(d["spec"]["image"] for d in m.k8s_objects("FlinkDeployment"))
    return images


def _compose_images() -> list[str]:
    images: list[str] = []
    for path in m.COMPOSE_FILES:
        data = m.load_yaml(path)
        images.extend(s["image"] for s in data["services"].values() if "image" in s)
    return images


def all_images() -> list[str]:
    bases = [
        img
        for name in ("platform.Dockerfile", "flink.Dockerfile")
        for img in m.dockerfile(name).base_images()
    ]
    return _compose_images() + _k8s_images() + bases


def test_every_image_is_pinned() -> None:
    images = all_images()
    assert len(images) >= 10
    loose = [image for image in images if not PINNED.match(image) or image.endswith(":latest")]
    assert not loose, f"images without an exact version or digest: {loose}"
    assert not PINNED.match("python:3.11-slim")  # a moving tag is refused
    assert not PINNED.match("apache/kafka:latest")


def test_our_images_carry_the_package_version() -> None:
    ours = [image for image in all_images() if image.split(":")[0] in OURS]
    assert {image.split(":")[0] for image in ours} == OURS
    assert {image.split(":")[1] for image in ours} == {__version__}


def test_base_images_match_the_runtime() -> None:
    (python,) = m.dockerfile("platform.Dockerfile").base_images()
    assert python.startswith("python:3.11."), "requires-python is 3.11"
    (flink,) = m.dockerfile("flink.Dockerfile").base_images()
    assert flink.startswith(f"flink:{FLINK_VERSION}-"), f"PyFlink is apache-flink {FLINK_VERSION}"
    assert flink.endswith("-java17")
    (deployment,) = m.k8s_objects("FlinkDeployment")
    major, minor, _ = FLINK_VERSION.split(".")
    assert deployment["spec"]["flinkVersion"] == f"v{major}_{minor}"
    assert (
        deployment["spec"]["job"]["jarURI"]
        == f"local:///opt/flink/opt/flink-python-{FLINK_VERSION}.jar"
    )


def _jar_pins() -> dict[str, tuple[str, str, str, str]]:
    """file name -> (group, artifact, version, sha256) from the Flink Dockerfile's pin list."""
    text = (m.DOCKER / "flink.Dockerfile").read_text(encoding="utf-8")
    pins = {}
    for path, sha in re.findall(r'"(\S+\.jar) ([0-9a-f]{64})"', text):
        *group, artifact, version, file_name = path.split("/")
        assert file_name == f"{artifact}-{version}.jar", path
        pins[file_name] = (".".join(group), artifact, version, sha)
    return pins


def test_flink_image_jars_are_the_locked_jars() -> None:
    locked = load_jar_sets()[KAFKA_JAR_SET].jars
    pins = _jar_pins()
    assert set(pins) == set(locked)
    for name, jar in locked.items():
        assert pins[name] == (jar.group, jar.artifact, jar.version, jar.sha256), name
    run = " ".join(m.dockerfile("flink.Dockerfile").all("RUN"))
    assert "sha256sum -c" in run
    assert "cd /opt/flink/lib" in run
    # The JobManager needs flink-python on its own classpath (test_application_mode shows why).
    assert "cp /opt/flink/opt/flink-python-*.jar /opt/flink/lib/" in run


def _final_user(name: str) -> str:
    return m.dockerfile(name).all("USER")[-1]


def test_images_run_as_non_root() -> None:
    assert _final_user("platform.Dockerfile") == "10001:10001"
    assert _final_user("flink.Dockerfile") == "flink"
    for owner, spec in m.pod_specs():
        if owner.startswith("fenghuo-"):
            assert spec["securityContext"]["runAsNonRoot"] is True, owner
            assert spec["securityContext"]["runAsUser"] == 10001, owner
    (deployment,) = m.k8s_objects("FlinkDeployment")
    assert deployment["spec"]["podTemplate"]["spec"]["securityContext"]["runAsNonRoot"] is True


def _flink_python(config: dict[str, Any]) -> set[str]:
    return {config["python.executable"], config["python.client.executable"]}


def test_flink_runs_the_images_python_and_the_job_module() -> None:
    image_python = m.dockerfile("flink.Dockerfile").env()["FENGHUO_FLINK_PYTHON"]
    (deployment,) = m.k8s_objects("FlinkDeployment")
    spec = deployment["spec"]
    assert _flink_python(spec["flinkConfiguration"]) == {image_python}
    assert m.settings_configmap()["FENGHUO_FLINK_PYTHON"] == image_python
    assert spec["job"]["entryClass"] == "org.apache.flink.client.python.PythonDriver"
    assert spec["job"]["args"] == ["-pym", "fenghuo.streaming.job"]
    jobmanager = m.compose()["services"]["jobmanager"]
    assert jobmanager["command"] == ["standalone-job", "--pyModule", "fenghuo.streaming.job"]
    properties = dict(
        line.split(": ", 1) for line in m.compose_env(jobmanager)["FLINK_PROPERTIES"].splitlines()
    )
    assert _flink_python(properties) == {image_python}
    # Kafka classes from lib/ only: the jars are both there and in the job's pipeline.jars.
    for config in (properties, spec["flinkConfiguration"]):
        assert config["classloader.parent-first-patterns.additional"] == "org.apache.kafka."


def test_flink_parallelism_fits_the_task_slots() -> None:
    (deployment,) = m.k8s_objects("FlinkDeployment")
    spec = deployment["spec"]
    parallelism = int(m.settings_configmap()["FENGHUO_STREAM_PARALLELISM"])
    assert spec["job"]["parallelism"] == parallelism
    slots = int(spec["flinkConfiguration"]["taskmanager.numberOfTaskSlots"])
    assert spec["taskManager"]["replicas"] * slots >= parallelism
    checkpoints = m.settings_configmap()["FENGHUO_STREAM_CHECKPOINT_DIR"]
    assert spec["flinkConfiguration"]["execution.checkpointing.dir"] == checkpoints
    services = m.compose()["services"]
    env = m.compose_env(services["jobmanager"])
    properties = dict(line.split(": ", 1) for line in env["FLINK_PROPERTIES"].splitlines())
    replicas = services["taskmanager"]["deploy"]["replicas"]
    assert replicas * int(properties["taskmanager.numberOfTaskSlots"]) >= int(
        env["FENGHUO_STREAM_PARALLELISM"]
    )
    assert properties["execution.checkpointing.dir"] == env["FENGHUO_STREAM_CHECKPOINT_DIR"]
