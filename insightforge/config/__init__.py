"""Configuration: one YAML file (or the same dict) describing providers and the stack.

>>> from insightforge.config import from_config
>>> llm = from_config("insightforge.yaml")        # doctest: +SKIP

Modules: ``schema`` (the attrs classes), ``parse`` (document -> Config, every problem with
its ``$.path``), ``validate`` (ranges and cross-references), ``interpolate`` (``${VAR}``),
``load`` (file discovery and YAML), ``legacy`` (the old ``llm:`` form), ``build`` (Config ->
Stack through the registry), ``jsonschema`` (the schema for editors), ``show`` (masked
dumps). YAML and cattrs load only when this package is imported.
"""

from __future__ import annotations

from insightforge.config.build import build, from_config, load_config
from insightforge.config.jsonschema import json_schema
from insightforge.config.legacy import is_legacy, migrate, migrate_text
from insightforge.config.load import find_config, load_document, user_config_dir, user_data_dir
from insightforge.config.parse import parse_config
from insightforge.config.schema import Config, LayerConfig, ProviderConfig, StackConfig
from insightforge.errors import ConfigError

__all__ = [
    "Config",
    "ConfigError",
    "LayerConfig",
    "ProviderConfig",
    "StackConfig",
    "build",
    "find_config",
    "from_config",
    "is_legacy",
    "json_schema",
    "load_config",
    "load_document",
    "migrate",
    "migrate_text",
    "parse_config",
    "user_config_dir",
    "user_data_dir",
]
