"""The platform's settings as the one source of truth for what deploy/ may set: the names of
the pydantic Settings fields (FENGHUO_<FIELD>), and validation of values with the model itself."""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from fenghuo.artifacts import ENV_DIR
from fenghuo.settings import Settings

PREFIX = str(Settings.model_config.get("env_prefix", ""))
# FENGHUO_* variables the package reads outside Settings (each named by its module's constant).
OTHER_VARIABLES = frozenset({ENV_DIR})
MENTION = re.compile(rf"\b{re.escape(PREFIX)}[A-Z0-9_]+\b")


def setting_names() -> frozenset[str]:
    return frozenset(PREFIX + name.upper() for name in Settings.model_fields)


def known_names() -> frozenset[str]:
    return setting_names() | OTHER_VARIABLES


def store_backends() -> tuple[str, ...]:
    """The values FENGHUO_STORE accepts (the `store` field's Literal)."""
    return tuple(typing.get_args(Settings.model_fields["store"].annotation))


class OnlyGiven(Settings):
    """Settings from the given values alone: no environment, no .env file of the test run."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from(env: Mapping[str, str]) -> Settings:
    """Validate a container's FENGHUO_* variables with the Settings model (others ignored)."""
    values: dict[str, Any] = {
        key[len(PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(PREFIX) and key in setting_names()
    }
    return OnlyGiven(**values)
