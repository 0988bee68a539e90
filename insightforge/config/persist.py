"""Budgets and rate limits that outlive a process: the CLI's default stores. Pure.

Each ``insightforge chat`` is a new process, so a budget or a rate limit in memory starts
from nothing every time: forty runs could spend forty times a daily limit. So where a config
leaves a ``budget`` or ``ratelimit`` layer without a store, the CLI (and the wizard, which
writes it out) keeps it in a SQLite file in the user data folder — ``budget.db`` and
``ratelimit.db`` — shared by every process of that user; ``store: memory`` still asks for a
memory store, and ``config validate`` warns about it (:func:`short_lived`). Python's
``from_config`` keeps the layers' own default (memory): a long-lived program is one process.

What lives here: :func:`persistent` (a :class:`Config` with those defaults filled in),
:func:`default_store` (the spec for one layer) and :func:`short_lived` (the warnings).
No I/O: the data folder is passed in (:func:`insightforge.config.load.user_data_dir`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs

from insightforge.config.schema import Config, LayerConfig, StackConfig

__all__ = ["PERSISTENT", "default_store", "persistent", "short_lived", "store_of"]

# layer name -> the SQLite file it gets in the user data folder
PERSISTENT = {"budget": "budget.db", "ratelimit": "ratelimit.db"}


def default_store(layer: str, data_dir: Path) -> str:
    """``sqlite:////<data_dir>/<file>`` for a ``budget`` or ``ratelimit`` layer."""
    return f"sqlite:///{data_dir.absolute() / PERSISTENT[layer]}"


def store_of(layer: LayerConfig) -> str | None:
    """The store spec a layer's options name (``store``, or a budget's old ``ledger``)."""
    value = layer.options.get("store", layer.options.get("ledger"))
    return value if isinstance(value, str) else None if value is None else repr(value)


def _fill(layers: tuple[LayerConfig, ...], data_dir: Path) -> tuple[LayerConfig, ...]:
    out = []
    for layer in layers:
        if layer.name in PERSISTENT and "store" not in layer.options \
                and "ledger" not in layer.options:
            options = {**layer.options, "store": default_store(layer.name, data_dir)}
            layer = attrs.evolve(layer, options=options)
        if layer.alternates:
            alternates = tuple(attrs.evolve(alt, layers=_fill(alt.layers, data_dir))
                               if isinstance(alt, StackConfig) else alt
                               for alt in layer.alternates)
            layer = attrs.evolve(layer, alternates=alternates)
        out.append(layer)
    return tuple(out)


def persistent(config: Config, data_dir: Path) -> Config:
    """``config`` with every ``budget`` and ``ratelimit`` layer that names no store kept in
    a SQLite file in ``data_dir`` (nested fallback stacks included)."""
    return attrs.evolve(config, stack=_fill(config.stack, data_dir))


def _walk(layers: tuple[LayerConfig, ...], path: str) -> Iterator[tuple[LayerConfig, str]]:
    for i, layer in enumerate(layers):
        where = f"{path}[{layer.index if layer.index >= 0 else i}].{layer.name}"
        yield layer, where
        for j, alt in enumerate(layer.alternates):
            if isinstance(alt, StackConfig):
                yield from _walk(alt.layers, f"{where}[{j}].stack")


def short_lived(config: Config) -> list[tuple[str, str]]:
    """``(path, message)`` for each budget or rate limit kept in memory, which the CLI
    forgets when each command ends (a warning for ``config validate``, not a problem)."""
    found = []
    for layer, where in _walk(config.stack, "$.stack"):
        spec = store_of(layer)
        if layer.name in PERSISTENT and spec is not None and spec.strip() == "memory":
            what = "budget" if layer.name == "budget" else "rate limit"
            key = "ledger" if "ledger" in layer.options and "store" not in layer.options \
                else "store"
            found.append((f"{where}.{key}", f"a {what} in memory lives only as long as one "
                          f"process: each `insightforge chat` starts it afresh; remove "
                          f"`{key}: memory` (the CLI then keeps it in {PERSISTENT[layer.name]} "
                          f"in the user data folder) or name a SQLite file or Redis URL"))
    return found
