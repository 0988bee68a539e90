"""Where credentials come from: explicit argument, then environment, then the OS keyring.

The order is fixed and documented (docs/credentials.md):

1. the ``api_key=`` (or ``token=``) argument;
2. the provider's environment variable (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``...);
3. the OS keyring, service ``insightforge``, user = the provider (instance) name.

A miss raises :class:`~insightforge.errors.CredentialError` naming the variable and the
``insightforge keys set`` command. Values travel as :class:`~insightforge.secrets.Secret`.
``keyring`` is imported only when step 3 is reached, so most calls never pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from insightforge.errors import CredentialError
from insightforge.secrets import Secret

__all__ = ["KEYRING_SERVICE", "Source", "keyring_get", "resolve", "resolve_with_source"]

KEYRING_SERVICE = "insightforge"
Source = Literal["argument", "environment", "keyring"]


def keyring_get(entry: str) -> str | None:
    """The keyring value for ``entry``, or ``None`` (also when no keyring backend works)."""
    if os.environ.get("INSIGHTFORGE_NO_KEYRING"):
        return None
    try:
        import keyring
        import keyring.errors

        return keyring.get_password(KEYRING_SERVICE, entry)
    except Exception:  # no backend, locked collection, dbus gone: treat as "not there"
        return None


def resolve_with_source(explicit: str | Secret | None, *, provider: str,
                        env: Sequence[str] = (), keyring_entry: str | None = None,
                        ) -> tuple[Secret, Source] | None:
    """The credential and where it came from, or ``None`` when there is none."""
    if explicit is not None and (explicit.reveal() if isinstance(explicit, Secret) else explicit):
        return Secret(explicit) if not isinstance(explicit, Secret) else explicit, "argument"
    for name in env:
        value = os.environ.get(name)
        if value:
            return Secret(value), "environment"
    value = keyring_get(keyring_entry or provider)
    if value:
        return Secret(value), "keyring"
    return None


def resolve(explicit: str | Secret | None, *, provider: str, env: Sequence[str] = (),
            keyring_entry: str | None = None, required: bool = True) -> Secret | None:
    """The credential for ``provider``; raises ``CredentialError`` if required and missing."""
    found = resolve_with_source(explicit, provider=provider, env=env,
                                keyring_entry=keyring_entry)
    if found is not None:
        return found[0]
    if required:
        raise CredentialError(provider, env_var=env[0] if env else None,
                              keyring_entry=keyring_entry or provider)
    return None
