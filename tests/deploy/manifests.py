"""Reading deploy/: the compose files, the Kubernetes manifests and the Dockerfiles, as data.

Everything here is plain parsing (PyYAML, a few regular expressions); the tests compare what it
returns with the code (settings, topics, health routes, jar pins).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKER = DEPLOY / "docker"
K8S = DEPLOY / "k8s"
COMPOSE_FILES = (DEPLOY / "compose.yaml", DEPLOY / "compose.elasticsearch.yaml")
# The manifests kustomization.yaml applies, and the example Secret beside them.
K8S_SCHEMAS = K8S / "schemas"
STAND_IN_SECRET = "a-test-secret-that-is-not-the-placeholder"

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# libyaml's loader when PyYAML has it (the vendored CRDs are ~1 MB of YAML), else the pure one.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def compose() -> dict[str, Any]:
    data = load_yaml(DEPLOY / "compose.yaml")
    assert isinstance(data, dict)
    return data


def interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` as its default; a required `${VAR:?...}` or bare `${VAR}` as
    a stand-in value (the operator supplies it)."""

    def one(match: re.Match[str]) -> str:
        if match.group("op") in (":-", "-"):
            return match.group("arg") or ""
        return STAND_IN_SECRET

    return _INTERPOLATION.sub(one, value)


def compose_env(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as strings, interpolated (list or mapping form)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) for item in raw)
        raw = {key: value for key, value in pairs}
    return {str(k): interpolate(str(v)) for k, v in raw.items() if v is not None}


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    """Every object of every manifest under deploy/k8s (not the vendored CRD schemas)."""
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend((path, doc) for doc in load_all(path))
    return docs


def k8s_objects(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_documents() if doc.get("kind") == kind]


def k8s_one(kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in k8s_objects(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner name, pod spec) of every workload with a pod template."""
    for _, doc in k8s_documents():
        if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def settings_configmap() -> dict[str, str]:
    data = k8s_one("ConfigMap", "fenghuo-settings")["data"]
    return {str(k): str(v) for k, v in data.items()}


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments), continuations joined

    @classmethod
    def read(cls, path: Path) -> Dockerfile:
        joined: list[str] = []
        pending = ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            if line.startswith("#"):
                continue  # a comment inside a continued instruction
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            joined.append(pending + line)
            pending = ""
        instructions = []
        for line in joined:
            word, _, rest = line.partition(" ")
            instructions.append((word.upper(), rest.strip()))
        return cls(path, instructions)

    def all(self, instruction: str) -> list[str]:
        return [rest for word, rest in self.instructions if word == instruction]

    def arg_defaults(self) -> dict[str, str]:
        out = {}
        for rest in self.all("ARG"):
            name, sep, default = rest.partition("=")
            if sep:
                out[name.strip()] = default.strip()
        return out

    def base_images(self) -> list[str]:
        """Each distinct FROM image, ARG defaults substituted (named stages left out)."""
        defaults = self.arg_defaults()
        stages: set[str] = set()
        images = []
        for rest in self.all("FROM"):
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), parts[0])
            if image not in stages and image not in images:
                images.append(image)
            if len(parts) == 3 and parts[1].upper() == "AS":
                stages.add(parts[2])
        return images

    def env(self) -> dict[str, str]:
        """ENV KEY=VALUE pairs (the form these Dockerfiles use)."""
        out: dict[str, str] = {}
        for rest in self.all("ENV"):
            for pair in rest.split():
                key, sep, value = pair.partition("=")
                if sep:
                    out[key] = value
        return out


def dockerfile(name: str) -> Dockerfile:
    return Dockerfile.read(DOCKER / name)
