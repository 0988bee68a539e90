"""The wizard's stack questions: one short question per layer, each with a default that
changes nothing surprising (retry on; fallback to the other providers set up; no rate
limit, budget, cache or audit log unless asked), outermost first in the order of
docs/configuration.md: audit, cache, budget, fallback, ratelimit, retry.

File paths given (the audit log, a SQLite cache) are made absolute against the config
file's folder; a budget and a rate limit are kept in SQLite files in the user data folder
(``store: sqlite:////...``, :mod:`insightforge.config.persist`), so separate runs share
them. A budget over a provider whose model has no known price asks for its price, instead
of failing after every question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["ask_stack", "folders"]

_NONE = ("", "none", "no", "n", "0", "off")


def _file(answer: str, base: Path) -> Path | None:
    """An answer naming a file, made absolute against ``base``; ``None`` for a directory."""
    path = Path(answer).expanduser()
    path = path if path.is_absolute() else base / path
    return None if path.is_dir() else path


def _fallback(primary: str, others: list[str]) -> list[str]:
    """Which other providers take over when ``primary`` fails (default: all, in order)."""
    while True:
        answer = click.prompt(f"If {primary} fails, fall back to (comma separated: "
                              f"{', '.join(others)}; or none)", default=", ".join(others))
        if answer.strip().lower() in _NONE:
            return []
        names = [n.strip() for n in answer.split(",") if n.strip()]
        unknown = [n for n in names if n not in others]
        if not unknown:
            return list(dict.fromkeys(names))
        click.echo(f"  not a provider set up here: {', '.join(unknown)}")


def _cache(base: Path) -> dict[str, Any] | None:
    """``none``, ``memory``, or a SQLite file (kept across runs, unlike memory)."""
    while True:
        answer = click.prompt("Cache answers (none, memory, or a SQLite file path)",
                              default="none").strip()
        if answer.lower() in _NONE:
            return None
        if answer.lower() == "memory":
            return {"ttl": 3600, "store": "memory"}
        answer = answer.removeprefix("sqlite:///").removeprefix("sqlite:")
        if "://" in answer:  # a Redis URL may hold a password: the file must not
            click.echo("  a Redis or other store URL goes in the file by hand, as ${VAR} "
                       "(docs/middleware/cache.md)")
            continue
        path = _file(answer, base)
        if path is not None:
            click.echo(f"  cache: {path}")
            return {"ttl": 3600, "store": f"sqlite:///{path}"}
        click.echo("  that is a directory; give a file name (cache.db)")


def _audit(base: Path) -> dict[str, Any] | None:
    """An audit log file (one redacted, hash-chained record per request), or none."""
    while True:
        answer = click.prompt("Audit log file (a path, or none)", default="none").strip()
        if answer.lower() in _NONE:
            return None
        path = _file(answer, base)
        if path is not None:
            click.echo(f"  audit log: {path}")
            return {"sink": str(path)}
        click.echo("  that is a directory; give a file name (audit.jsonl)")


def _priced(spec: dict[str, Any]) -> bool:
    from insightforge.pricing import price_for

    if spec.get("price") is not None:
        return True
    return price_for(spec["type"], spec.get("model") or spec.get("deployment") or "") \
        is not None


def ask_prices(providers: dict[str, dict[str, Any]], names: list[str]) -> None:
    """A budget must price every call: ask the price of each model it cannot look up."""
    for name in names:
        spec = providers[name]
        if _priced(spec):
            continue
        model = spec.get("model") or spec.get("deployment")
        click.echo(f"  no price is known for {spec['type']} model {model!r} ({name}); a "
                   "budget needs one")
        rate = click.FloatRange(min=0, max=1_000_000)
        spec["price"] = {
            "input": click.prompt("  Its price in USD per million input tokens", type=rate),
            "output": click.prompt("  Its price in USD per million output tokens", type=rate)}


def ask_stack(primary: str, others: list[str], base: Path,
              providers: dict[str, dict[str, Any]] | None = None,
              data_dir: Path | None = None) -> list[Any]:
    """Ask for each layer; return them outermost first, in the order of
    docs/configuration.md: audit, cache, budget, fallback, ratelimit, retry.
    ``providers`` (name -> spec) get a price asked when a budget needs one; ``data_dir`` is
    where the budget and rate limit are kept (default: the user data folder)."""
    from insightforge.config.load import user_data_dir
    from insightforge.config.persist import default_store

    data_dir = user_data_dir() if data_dir is None else data_dir
    retry = click.confirm("Retry transient failures (retry: {attempts: 3})?", default=True)
    fallback = _fallback(primary, others) if others else []
    rpm = click.prompt("Rate limit in requests per minute (0 for none)", default=0,
                       type=click.IntRange(min=0))
    budget = click.prompt("Daily budget in USD (0 for none)", default=0.0,
                          type=click.FloatRange(min=0, max=1_000_000))
    if budget > 0 and providers is not None:
        ask_prices(providers, [primary, *fallback])
    cache = _cache(base)
    audit = _audit(base)
    layers: list[Any] = []
    if audit is not None:
        layers.append({"audit": audit})
    if cache is not None:
        layers.append({"cache": cache})
    if budget > 0:
        layers.append({"budget": {"limit_usd": budget, "period": "day",
                                  "store": default_store("budget", data_dir)}})
    if fallback:
        layers.append({"fallback": fallback})
    if rpm > 0:
        layers.append({"ratelimit": {"rpm": rpm, "store": default_store("ratelimit", data_dir)}})
    if retry:
        layers.append({"retry": {"attempts": 3}})
    return layers


def folders(stack: list[Any]) -> set[Path]:
    """The folders of the files the stack will write (they must exist for it to start)."""
    found = set()
    for layer in stack:
        spec = next(iter(layer.values()))
        if not isinstance(spec, dict):
            continue
        where = spec.get("sink") or str(spec.get("store", "")).removeprefix("sqlite:///")
        if where and where != "memory":
            found.add(Path(where).parent)
    return found
