"""The ``insightforge config init`` wizard: prompts in, a checked YAML file out.

Steps: pick providers, for each its name, model and endpoint, its key (hidden input, stored
in the OS keyring, never in the file), a connection test; then the stack, one short question
per layer, each with a default that changes nothing surprising (retry on; fallback to the
other providers set up; no rate limit, budget, cache or audit log unless asked); then write
the file and load it back to prove it is valid.

File paths given (the audit log, a SQLite cache) are made absolute against the config file's
directory, so the stack finds them wherever ``insightforge`` is run from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from insightforge.errors import ConfigError

__all__ = ["run_wizard"]

_KEYLESS = frozenset({"ollama"})


def _choices() -> list[str]:
    from insightforge.registry import list_providers

    return [r.name for r in list_providers(load=True) if r.error is None]


def _provider(ptype: str, taken: set[str]) -> tuple[str, dict[str, Any]]:
    from insightforge.cli._setup import DEFAULT_MODELS
    from insightforge.registry import provider_factory

    name = click.prompt(f"Name for this {ptype} provider", default=ptype)
    while name in taken:
        name = click.prompt("That name is taken; another name")
    spec: dict[str, Any] = {"type": ptype}
    if ptype == "azure":
        spec["deployment"] = click.prompt("Azure deployment name")
        spec["api_version"] = click.prompt("Azure API version", default="2024-10-21")
    else:
        spec["model"] = click.prompt("Model", default=DEFAULT_MODELS.get(ptype, "default"))
    default_url = getattr(provider_factory(ptype), "default_base_url", "") or None
    url = click.prompt("Base URL", default=default_url or "", show_default=bool(default_url))
    if url and url != default_url:
        spec["base_url"] = url.rstrip("/")
    return name, spec


def _key(name: str, ptype: str, spec: dict[str, Any]) -> None:
    from insightforge.cli.keys import store_key

    if ptype in _KEYLESS:
        return
    key = click.prompt(f"API key for {name} (hidden; empty to use an environment variable)",
                       hide_input=True, default="", show_default=False)
    if not key.strip():
        return
    try:
        store_key(name, ptype, key.strip())
    except click.ClickException as exc:  # never fall back to writing the key into the file
        click.echo(f"  {exc.format_message()}", err=True)
        click.echo("  the key was NOT stored; set it in the environment before using "
                   f"{name}", err=True)
        return
    spec["api_key_ref"] = f"keyring:{name}"
    click.echo(f"  stored in the OS keyring as {name!r}")


def _test(name: str, spec: dict[str, Any]) -> bool:
    from insightforge.cli.keys import test_provider
    from insightforge.config import load_config

    cfg = load_config({"providers": {name: spec}})
    ok, message = test_provider(name, cfg.providers[name])
    click.echo(f"  test: {message}")
    return ok


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


def _stack(primary: str, others: list[str], base: Path) -> list[Any]:
    """Ask for each layer; return them outermost first, in the order of
    docs/configuration.md: audit, cache, budget, fallback, ratelimit, retry."""
    retry = click.confirm("Retry transient failures (retry: {attempts: 3})?", default=True)
    fallback = _fallback(primary, others) if others else []
    rpm = click.prompt("Rate limit in requests per minute (0 for none)", default=0,
                       type=click.IntRange(min=0))
    budget = click.prompt("Daily budget in USD (0 for none)", default=0.0,
                          type=click.FloatRange(min=0, max=1_000_000))
    cache = _cache(base)
    audit = _audit(base)
    layers: list[Any] = []
    if audit is not None:
        layers.append({"audit": audit})
    if cache is not None:
        layers.append({"cache": cache})
    if budget > 0:
        layers.append({"budget": {"limit_usd": budget, "period": "day"}})
    if fallback:
        layers.append({"fallback": fallback})
    if rpm > 0:
        layers.append({"ratelimit": {"rpm": rpm}})
    if retry:
        layers.append({"retry": {"attempts": 3}})
    return layers


def _files(stack: list[Any]) -> set[Path]:
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


def run_wizard(target: Path, *, force: bool = False) -> None:
    """Ask, store keys, test, write ``target``; raises ``ConfigError`` if nothing is set up."""
    import yaml

    from insightforge.config import load_config

    click.echo("InsightForge setup. Keys go to the OS keyring; the config file holds none.")
    if target.exists() and not force:
        click.confirm(f"{target} exists. Overwrite it?", abort=True)
    available = _choices()
    picked = click.prompt(f"Providers to set up, comma separated ({', '.join(available)})",
                          default="openai" if "openai" in available else available[0])
    providers: dict[str, dict[str, Any]] = {}
    for ptype in (p.strip() for p in picked.split(",") if p.strip()):
        if ptype not in available:
            click.echo(f"  skipping unknown provider {ptype!r}")
            continue
        name, spec = _provider(ptype, set(providers))
        _key(name, ptype, spec)
        if click.confirm("Test the connection now?", default=True) and not _test(name, spec) \
                and not click.confirm("The test failed. Keep this provider anyway?",
                                      default=False):
            continue
        providers[name] = spec
    if not providers:
        raise ConfigError("no provider set up; nothing written")
    primary = next(iter(providers))
    if len(providers) > 1:
        primary = click.prompt("Main provider", type=click.Choice(list(providers)),
                               default=primary)
    base = target.expanduser().absolute().parent
    stack = _stack(primary, [n for n in providers if n != primary], base)
    doc = {"providers": providers, "provider": primary, "stack": stack}
    load_config(doc)  # never write a file that does not load
    for folder in {base, *_files(stack)}:
        folder.mkdir(parents=True, exist_ok=True)
    header = "# InsightForge config, written by `insightforge config init`. No secrets here.\n"
    target.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    click.echo(f"Wrote {target}. Try: insightforge chat \"hi\"")
