"""``insightforge keys set|list|delete|test``: API keys in the OS keyring.

Keys live under service ``insightforge``, one entry per provider (instance) name. Values
are read with hidden input (or from stdin when it is not a terminal) and are never printed:
``list`` shows where each key comes from and a masked form.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from insightforge.cli._errors import CommandError
from insightforge.errors import (
    AuthenticationError,
    ConfigError,
    CredentialError,
    InsightForgeError,
    ProviderError,
    ProviderUnavailable,
    Timeout,
)

__all__ = ["keys", "store_key", "stored_line", "test_provider"]


def _env_vars(ptype: str) -> tuple[str, ...]:
    from insightforge.registry import provider_factory

    try:
        return tuple(getattr(provider_factory(ptype), "env_vars", ()))
    except ConfigError:
        return ()


def _key_required(ptype: str) -> bool:
    from insightforge.registry import provider_factory

    try:
        return bool(getattr(provider_factory(ptype), "key_required", True))
    except ConfigError:
        return True


def _configured(ctx: click.Context) -> dict[str, Any]:
    """Provider instances from the config file, if there is one (name -> ProviderConfig)."""
    from insightforge.cli._setup import config_file
    from insightforge.config import load_config

    try:
        path = config_file(ctx)
        return dict(load_config(path).providers) if path is not None else {}
    except ConfigError:
        return {}


@click.group()
def keys() -> None:
    """Store, list, delete and test API keys (kept in the OS keyring)."""


_INSTALL = ("install or unlock a keyring backend (gnome-keyring or KWallet, the macOS "
            "Keychain, Windows Credential Locker; or `pip install keyrings.alt` and "
            "--allow-plaintext)")


def _no_keyring(name: str, ptype: str, why: str, fix: str = _INSTALL) -> CommandError:
    """The one line (exit code 2) when no usable keyring can take the key: why, and the fix."""
    env = _env_vars(ptype)
    instead = f"set {env[0]} instead" if env else "use an environment variable instead"
    return CommandError(f"cannot store the key for {name}: {why}; {fix}, or {instead}")


def store_key(name: str, ptype: str, value: str, *, allow_plaintext: bool = False) -> Any:
    """Store ``value`` and read it back; the :class:`~insightforge.credentials.Backend` that
    keeps it. Raises :class:`CommandError` naming the fix when no usable keyring can take
    it, or when the backend keeps keys in a plain file and ``allow_plaintext`` is false.

    A backend that drops the key (the null backend) or a keyring switched off
    (``INSIGHTFORGE_NO_KEYRING``) counts as no usable keyring, as one that raises does.
    """
    import os

    from insightforge.credentials import (
        KeyringUnavailable,
        keyring_backend,
        keyring_get,
        keyring_set,
    )

    if os.environ.get("INSIGHTFORGE_NO_KEYRING"):
        raise _no_keyring(name, ptype, "the keyring is switched off (INSIGHTFORGE_NO_KEYRING "
                          "is set)", fix="unset INSIGHTFORGE_NO_KEYRING")
    try:
        backend = keyring_backend()
    except Exception as exc:  # a backend that fails to even load
        raise _no_keyring(name, ptype, f"no usable keyring backend ({type(exc).__name__})") \
            from None
    if backend.plaintext and not allow_plaintext:
        raise _no_keyring(
            name, ptype, f"the keyring backend here, {backend.name}, keeps keys in a plain "
            "file any program of yours can read", fix="run a secure keyring (gnome-keyring "
            "or KWallet in a D-Bus session, the macOS Keychain, Windows Credential Locker), "
            "or pass --allow-plaintext to store it in that file anyway")
    try:
        keyring_set(name, value)
    except KeyringUnavailable as exc:
        cause = exc.__context__  # what the backend raised (kept out of the message's text)
        kind = f" ({type(cause).__name__})" if cause is not None else ""
        raise _no_keyring(name, ptype, f"no usable keyring backend{kind}") from None
    if keyring_get(name) != value:
        raise _no_keyring(name, ptype, f"the keyring backend ({backend.name}) did not keep it")
    return backend


def stored_line(name: str, backend: Any) -> str:
    """What ``keys set`` and the wizard say after storing: which backend holds the key."""
    from insightforge.credentials import keyring_service

    where = f"{backend.name} (service {keyring_service()!r}, entry {name!r})"
    plain = " - a plain file readable by your account" if backend.plaintext else ""
    return f"Stored the key for {name} in {where}{plain}."


@keys.command("set")
@click.argument("name")
@click.option("--value", hidden=True, help="The key (prefer the prompt or stdin).")
@click.option("--allow-plaintext", is_flag=True,
              help="Store the key even when the keyring backend keeps keys in a plain file "
              "(keyrings.alt's PlaintextKeyring, or any backend keyring rates under 1).")
@click.pass_context
def set_(ctx: click.Context, name: str, value: str | None, allow_plaintext: bool) -> None:
    """Store the key for provider NAME (prompted with hidden input, or read from stdin).

    Says which keyring backend stored it. A backend that keeps keys in a plain file is
    refused unless --allow-plaintext is given. With no usable keyring backend (none
    installed, locked, or INSIGHTFORGE_NO_KEYRING set) nothing is stored and the exit code
    is 2; the message names the fix (a backend, or the provider's environment variable).

    \b
    Examples:
      insightforge keys set openai
      printf %s "$KEY" | insightforge keys set anthropic
    """

    if value is None:
        if sys.stdin.isatty():
            value = click.prompt(f"API key for {name}", hide_input=True)
        else:
            value = sys.stdin.read().strip()
    if not value or not value.strip():
        raise click.UsageError("the key is empty; nothing stored")
    spec = _configured(ctx).get(name)
    backend = store_key(name, spec.type if spec is not None else name, value.strip(),
                        allow_plaintext=allow_plaintext)
    click.echo(stored_line(name, backend))


@keys.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Known keys: name, where each comes from (environment or keyring), masked value."""
    from insightforge.credentials import describe, keyring_names
    from insightforge.registry import list_providers

    configured = _configured(ctx)
    names = {r.name: r.name for r in list_providers()}
    names.update({name: spec.type for name, spec in configured.items()})
    names.update({name: names.get(name, name) for name in keyring_names()})
    width = max((len(n) for n in names), default=4)
    for name, ptype in sorted(names.items()):
        spec = configured.get(name)
        entry, env = name, _env_vars(ptype)
        if spec is not None and (spec.api_key_ref or "").startswith("keyring:"):
            entry = spec.api_key_ref.partition(":")[2]
            if describe(name, keyring_entry=entry).source is not None:
                env = ()  # an explicit keyring ref that is set wins (config/build.py)
        info = describe(name, env=env, keyring_entry=entry)
        if info.source is None:
            why = "not set" if _key_required(ptype) else "optional, not set"
            click.echo(f"{name:<{width}}  -            ({why}: {info.where})")
        else:
            click.echo(f"{name:<{width}}  {info.source:<11}  {info.masked:<18} {info.where}")


@keys.command()
@click.argument("name")
def delete(name: str) -> None:
    """Delete the keyring entry for NAME."""
    from insightforge.credentials import keyring_delete

    if keyring_delete(name):
        click.echo(f"Deleted the key for {name}.")
    else:
        click.echo(f"No key stored for {name}.")


def test_provider(name: str, spec: Any) -> tuple[bool, str]:
    """Build instance ``name`` from ``spec`` and run its cheap authenticated check."""
    from insightforge.config.build import provider_kwargs
    from insightforge.registry import create_provider

    try:
        provider = create_provider(spec.type, **provider_kwargs(name, spec))
    except CredentialError:
        return False, "no key (run `insightforge keys set " + name + "`)"
    except InsightForgeError as exc:
        return False, f"config error: {exc}"
    try:
        provider.check()
        return True, "OK"
    except AuthenticationError:
        return False, "bad key (the server refused it)"
    except (ProviderUnavailable, Timeout):
        return False, f"unreachable ({getattr(provider, 'base_url', '?')})"
    except ProviderError as exc:
        return False, f"error: {type(exc).__name__}: {exc}"
    except InsightForgeError as exc:
        return False, f"error: {exc}"
    finally:
        provider.close()


@keys.command()
@click.argument("name", required=False)
@click.option("--base-url", help="Test against this endpoint instead of the configured one.")
@click.option("--model", help="Model to name in the check (default: configured, or typical).")
@click.pass_context
def test(ctx: click.Context, name: str | None, base_url: str | None, model: str | None) -> None:
    """Check keys with a cheap authenticated call: OK, bad key, or unreachable.

    NAME is a provider instance from the config or a provider type; without NAME every
    configured provider is tested. Exit code 1 when any check fails.
    """
    import attrs

    from insightforge.cli._setup import DEFAULT_MODELS
    from insightforge.config.schema import ProviderConfig

    configured = _configured(ctx)
    if name is not None:
        spec = configured.get(name) or ProviderConfig(type=name,
                                                      model=DEFAULT_MODELS.get(name, "default"))
        targets = {name: spec}
    else:
        targets = configured or {"openai": ProviderConfig("openai", DEFAULT_MODELS["openai"])}
    failed = False
    for target, spec in targets.items():
        if base_url:
            spec = attrs.evolve(spec, base_url=base_url)
        if model:
            spec = attrs.evolve(spec, model=model)
        ok, message = test_provider(target, spec)
        failed |= not ok
        click.echo(f"{target}: {message}")
    if failed:
        ctx.exit(1)
