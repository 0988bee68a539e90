"""The wizard's provider questions: which, name, model, URL, key; a connection test with
the key just typed; on a failure, the URL or the key asked again instead of thrown away.

A key is stored in the OS keyring only once the provider is accepted (its test passed, or
the user keeps it anyway): the backend that took it is named, and one that keeps keys in a
plain file is used only when the user says so (``--allow-plaintext``, or yes to the
question). Without a keyring the key is still used for the test, and the wizard says which
environment variable to set; it never writes a key into the file.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["ask_key", "ask_provider", "choices", "keep_key", "settle_provider", "test_spec"]

_KEYLESS = frozenset({"ollama"})


def choices() -> list[str]:
    from insightforge.registry import list_providers

    return [r.name for r in list_providers(load=True) if r.error is None]


def _url(ptype: str, spec: dict[str, Any], current: str | None = None) -> None:
    from insightforge.registry import provider_factory

    default_url = getattr(provider_factory(ptype), "default_base_url", "") or None
    shown = current or default_url
    url = click.prompt("Base URL", default=shown or "", show_default=bool(shown))
    if url and url != default_url:
        spec["base_url"] = url.rstrip("/")
    else:
        spec.pop("base_url", None)


def ask_provider(ptype: str, taken: set[str]) -> tuple[str, dict[str, Any]]:
    """Name, model (or Azure deployment and version) and endpoint of one provider."""
    from insightforge.cli._setup import DEFAULT_MODELS

    name = click.prompt(f"Name for this {ptype} provider", default=ptype)
    while name in taken:
        name = click.prompt("That name is taken; another name")
    spec: dict[str, Any] = {"type": ptype}
    if ptype == "azure":
        spec["deployment"] = click.prompt("Azure deployment name")
        spec["api_version"] = click.prompt("Azure API version", default="2024-10-21")
    else:
        spec["model"] = click.prompt("Model", default=DEFAULT_MODELS.get(ptype, "default"))
    _url(ptype, spec)
    return name, spec


def ask_key(name: str, ptype: str) -> str | None:
    """The key typed (hidden), or ``None`` for none (an environment variable, or keyless)."""
    if ptype in _KEYLESS:
        return None
    key = click.prompt(f"API key for {name} (hidden; empty to use an environment variable)",
                       hide_input=True, default="", show_default=False)
    return key.strip() or None


def test_spec(name: str, spec: dict[str, Any], key: str | None) -> tuple[bool, str]:
    """Test the provider with ``key`` (the one just typed, whether or not a keyring keeps
    it), else however it finds its key. Prints and returns (ok, message)."""
    from insightforge.cli.keys import test_provider
    from insightforge.config import load_config

    tested = dict(spec)
    if key is not None:
        tested.pop("api_key_ref", None)
        tested["api_key"] = key
    cfg = load_config({"providers": {name: tested}})
    ok, message = test_provider(name, cfg.providers[name])
    click.echo(f"  test: {message}")
    return ok, message


def settle_provider(name: str, ptype: str, spec: dict[str, Any],
                    key: str | None) -> tuple[bool, str | None]:
    """Offer the connection test, and on a failure to re-enter the URL or the key (as often
    as it takes), keep the provider anyway, or drop it: (keep it, the key to store)."""
    if not click.confirm("Test the connection now?", default=True):
        return True, key
    while True:
        ok, message = test_spec(name, spec, key)
        if ok:
            return True, key
        guess = "key" if message.startswith(("bad key", "no key")) else "url"
        choice = click.prompt("The test failed. Re-enter the url, the key, both; keep it "
                              "anyway; or drop it?", default=guess,
                              type=click.Choice(["url", "key", "both", "keep", "drop"]))
        if choice == "keep":
            return True, key
        if choice == "drop":
            return False, None
        if choice in ("url", "both"):
            _url(ptype, spec, spec.get("base_url"))
        if choice in ("key", "both"):
            key = ask_key(name, ptype) if ptype not in _KEYLESS else None


def keep_key(name: str, ptype: str, spec: dict[str, Any], key: str | None, *,
             allow_plaintext: bool) -> None:
    """Store an accepted provider's key in the keyring and point the config at it; say
    where it went, or why not and what to set instead."""
    from insightforge.cli.keys import _env_vars, store_key, stored_line
    from insightforge.credentials import keyring_backend

    if key is None:
        return
    if not allow_plaintext:
        try:
            backend = keyring_backend()
        except Exception:  # no backend at all: store_key says so below
            backend = None
        if backend is not None and backend.plaintext:
            allow_plaintext = click.confirm(
                f"  The keyring here ({backend.name}) keeps keys in a plain file. Store the "
                "key there anyway?", default=False)
    try:
        backend = store_key(name, ptype, key, allow_plaintext=allow_plaintext)
    except click.ClickException as exc:  # never fall back to writing the key into the file
        env = _env_vars(ptype)
        instead = f"set {env[0]}" if env else "set its environment variable"
        click.echo(f"  {exc.format_message()}", err=True)
        click.echo(f"  the key was NOT stored; {instead} before using {name}", err=True)
        return
    spec["api_key_ref"] = f"keyring:{name}"
    click.echo(f"  {stored_line(name, backend)}")
