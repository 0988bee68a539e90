"""Where credentials come from: explicit argument, then environment, then the OS keyring.

The order is fixed and documented (docs/credentials.md):

1. the ``api_key=`` (or ``token=``) argument;
2. the provider's environment variable (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``...);
3. the OS keyring, service ``insightforge``, user = the provider (instance) name.

A miss raises :class:`~insightforge.errors.CredentialError` naming the variable and the
``insightforge keys set`` command. Values travel as :class:`~insightforge.secrets.Secret`.
``keyring`` is imported only when step 3 is reached, so most calls never pay for it.

Keyring management for ``insightforge keys``: :func:`keyring_set`, :func:`keyring_delete`,
:func:`keyring_names` (keyrings cannot be listed portably, so the names InsightForge stored
are kept in one extra entry, ``__names__``, holding names only) and :func:`describe` (where
a credential comes from, masked). ``INSIGHTFORGE_KEYRING_SERVICE`` overrides the service
name (tests use it so they never touch a developer's real entries).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import attrs

from insightforge.errors import CredentialError, InsightForgeError
from insightforge.secrets import Secret, scrub

__all__ = [
    "KEYRING_SERVICE",
    "Backend",
    "CredentialInfo",
    "KeyringUnavailable",
    "Source",
    "describe",
    "keyring_backend",
    "keyring_delete",
    "keyring_get",
    "keyring_names",
    "keyring_service",
    "keyring_set",
    "resolve",
    "resolve_with_source",
]

KEYRING_SERVICE = "insightforge"
Source = Literal["argument", "environment", "keyring"]
_INDEX = "__names__"


class KeyringUnavailable(InsightForgeError):
    """No working keyring backend (or it refused): says how to fix it."""


# backends that keep keys readable by anyone who can read a file of the user's
PLAINTEXT_BACKENDS = frozenset({"keyrings.alt.file.PlaintextKeyring",
                                "keyrings.alt.pyfs.PlaintextKeyring",
                                "keyrings.alt.multi.MultipartKeyringWrapper"})
# backends that keep nothing: storing "works" and the key is gone (or it always fails)
UNUSABLE_BACKENDS = frozenset({"keyring.backends.fail.Keyring",
                               "keyring.backends.null.Keyring",
                               "keyring.backends.chainer.ChainerBackend"})


@attrs.frozen
class Backend:
    """The keyring backend a key would be stored in (the first of a chain).

    Attributes:
        name: its dotted class name (what ``PYTHON_KEYRING_BACKEND`` takes).
        priority: keyring's own rating (under 1: a fallback keyring itself deems weak).
        plaintext: it keeps keys in a file readable by the user's account (keyrings.alt's
            ``PlaintextKeyring``, or any backend rated under 1 that keeps keys at all).
        usable: ``False`` for the backends that keep nothing (fail, null, an empty chain).
    """

    name: str
    priority: float | None
    plaintext: bool
    usable: bool


def keyring_backend() -> Backend:
    """The backend ``keyring_set`` would store into, and whether it is a plain file."""
    import keyring
    from keyring.backends.chainer import ChainerBackend

    chosen = keyring.get_keyring()
    if isinstance(chosen, ChainerBackend):
        chained = chosen.backends
        chosen = chained[0] if chained else chosen
    name = f"{type(chosen).__module__}.{type(chosen).__name__}"
    try:
        priority: float | None = float(chosen.priority)
    except Exception:  # a backend that cannot rate itself here
        priority = None
    usable = name not in UNUSABLE_BACKENDS
    plaintext = usable and (name in PLAINTEXT_BACKENDS or (priority is not None
                                                           and priority < 1))
    return Backend(name, priority, plaintext, usable)


def keyring_service() -> str:
    """The keyring service name: ``insightforge`` unless overridden by the environment."""
    return os.environ.get("INSIGHTFORGE_KEYRING_SERVICE") or KEYRING_SERVICE


def keyring_get(entry: str) -> str | None:
    """The keyring value for ``entry``, or ``None`` (also when no keyring backend works)."""
    if os.environ.get("INSIGHTFORGE_NO_KEYRING"):
        return None
    try:
        import keyring
        import keyring.errors

        return keyring.get_password(keyring_service(), entry)
    except Exception:  # no backend, locked collection, dbus gone: treat as "not there"
        return None


def _keyring_call(action: str, fn: Callable[[], object]) -> object:
    try:
        return fn()
    except Exception as exc:
        raise KeyringUnavailable(
            f"could not {action} in the OS keyring ({type(exc).__name__}: {scrub(str(exc))}); "
            "unlock or install a keyring backend (e.g. gnome-keyring, or `pip install "
            "keyrings.alt`), or use an environment variable instead") from None


def _write_index(names: Iterable[str]) -> None:
    import keyring

    text = "\n".join(sorted(set(names)))
    _keyring_call("update the key index",
                  lambda: keyring.set_password(keyring_service(), _INDEX, text))


def keyring_names() -> list[str]:
    """Names InsightForge stored in the keyring (via :func:`keyring_set`), sorted."""
    text = keyring_get(_INDEX) or ""
    return sorted({line for line in text.splitlines() if line and keyring_get(line)})


def keyring_set(entry: str, value: str | Secret) -> None:
    """Store a credential under ``entry`` (service ``insightforge``)."""
    import keyring

    if not entry or entry == _INDEX or "\n" in entry:
        raise ValueError(f"invalid key name {entry!r}")
    plain = value.reveal() if isinstance(value, Secret) else value
    if not plain:
        raise ValueError("refusing to store an empty key")
    _keyring_call("store the key", lambda: keyring.set_password(keyring_service(), entry, plain))
    _write_index([*keyring_names(), entry])


def keyring_delete(entry: str) -> bool:
    """Remove ``entry``; ``False`` when there was nothing to remove."""
    import keyring
    import keyring.errors

    existed = keyring_get(entry) is not None
    if existed:
        def delete() -> None:
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                keyring.delete_password(keyring_service(), entry)

        _keyring_call("delete the key", delete)
    _write_index([name for name in keyring_names() if name != entry])
    return existed


@attrs.frozen
class CredentialInfo:
    """Where one credential comes from, for ``insightforge keys list``.

    Attributes:
        name: the provider (instance) name; source: ``environment``, ``keyring`` or ``None``
        (missing); where: the env var or keyring entry; masked: the masked value.
    """

    name: str
    source: Source | None
    where: str
    masked: str


def describe(name: str, env: Sequence[str] = (), keyring_entry: str | None = None,
             ) -> CredentialInfo:
    """Where the credential for ``name`` would come from, masked (never the value)."""
    found = resolve_with_source(None, provider=name, env=env, keyring_entry=keyring_entry)
    entry = keyring_entry or name
    if found is None:
        hint = f"{env[0]} or keyring:{entry}" if env else f"keyring:{entry}"
        return CredentialInfo(name, None, hint, "")
    secret, source = found
    where = f"keyring:{entry}"
    if source == "environment":
        where = next(var for var in env if os.environ.get(var))
    return CredentialInfo(name, source, where, secret.masked)


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
