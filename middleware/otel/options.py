"""The ``OpenTelemetry`` layer's options, checked when it is built: each bad value is a
``ConfigError`` naming the option and a good value. Pure (apart from asking whether an
optional package is installed)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import attrs

from insightforge.errors import ConfigError
from insightforge.redact import Redactor
from middleware.otel.instruments import Metrics

__all__ = ["Redact", "as_metrics", "as_redactor", "check_bool", "check_cap", "has", "need"]

Redact = Callable[[Any], Any]


def need(module: str, extra: str, path: str) -> None:
    if importlib.util.find_spec(module.split(".")[0]) is None or \
            importlib.util.find_spec(module) is None:
        raise ConfigError(f"this needs the {module.split('.')[0]} package: "
                          f"pip install 'insightforge[{extra}]'", path=path)


def as_redactor(value: Redact | bool | None) -> Redact | None:
    if value is True:
        return Redactor()
    if value is False or value is None:
        return None
    if callable(value):
        return value
    raise ConfigError(f"redact must be a Redactor, a function, true or false; got a "
                      f"{type(value).__name__}", path="redact")


def as_metrics(value: Any) -> Any:
    if value is None or value is False:
        return None
    if value == "otel":
        need("opentelemetry.metrics", "otel", "metrics")
        return value
    if value == "prometheus":
        need("prometheus_client", "prometheus", "metrics")
        return value
    if isinstance(value, Metrics):
        return value
    raise ConfigError(f"metrics must be 'otel' (the OpenTelemetry metrics API), "
                      f"'prometheus' (prometheus-client), none, or an object with "
                      f"record(outcome); got {value!r}"[:300], path="metrics")


def check_bool(_: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{attribute.name} must be true or false, got {value!r}"[:200],
                          path=attribute.name)


def check_cap(_: object, __: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"max_label_values must be a whole number >= 1 (e.g. 100), got "
                          f"{value!r}"[:200], path="max_label_values")


def has(method: str, what: str) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """A validator: ``None``, or an object with ``method`` (a provider, a registry)."""
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not callable(getattr(value, method, None)):
            raise ConfigError(f"{attribute.name} must be {what} (or None for the global "
                              f"one), got a {type(value).__name__}", path=attribute.name)
    return check
