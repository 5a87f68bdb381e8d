"""Detection configuration: per-tenant suppression, allow-lists and thresholds, as data.

Tuning never edits detector logic (Falco's `user_expected_*` macros, Elastic's alert
suppression). YAML:

    suppressions:
      - {detector: vmm-crash, tenant: acme, reason: "fuzzing lab", until: 2026-03-01T00:00:00Z}
      - {detector: cross-tenant-flow, host: hv-07}
    settings:
      cross-tenant-flow: {exempt_ports: [53, 123]}
      vmm-crash: {escalate_after: 3}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from fenghuo.errors import ConfigError
from fenghuo.model.alert import Alert


class Suppression(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: str | None = None  # None: every detector
    tenant: str | None = None  # matches the alert's tenant_id or actor_tenant_id
    host: str | None = None
    reason: str = ""
    until: AwareDatetime | None = None

    def matches(self, alert: Alert) -> bool:
        if self.until is not None and alert.first_seen >= self.until:
            return False
        if self.detector is not None and alert.detector != self.detector:
            return False
        if self.tenant is not None and self.tenant not in (alert.tenant_id, alert.actor_tenant_id):
            return False
        return self.host is None or alert.host_id == self.host


class DetectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    suppressions: tuple[Suppression, ...] = ()
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def suppressed(self, alert: Alert) -> Suppression | None:
        return next((s for s in self.suppressions if s.matches(alert)), None)

    def setting(self, detector: str, name: str, default: Any = None) -> Any:
        return self.settings.get(detector, {}).get(name, default)

    def with_settings(self, detector: str, values: dict[str, Any]) -> DetectionConfig:
        merged = {**self.settings, detector: {**self.settings.get(detector, {}), **values}}
        return self.model_copy(update={"settings": merged})


def load_detection_config(path: Path) -> DetectionConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return DetectionConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        msg = f"invalid detection configuration {path}: {exc}"
        raise ConfigError(msg) from None
