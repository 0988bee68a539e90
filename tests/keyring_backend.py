"""A real keyring backend for tests: gnome-keyring's Secret Service, or keyrings.alt's file.

Under a D-Bus session (``scripts/test`` wraps pytest in ``dbus-run-session``), the Secret
Service of gnome-keyring is used, started and unlocked here if it is not running yet, with a
default collection. Without D-Bus, keyrings.alt's plaintext file backend in a temporary
directory (a real backend, files on disk). Either way the fixture sets it with
``keyring.set_keyring`` and restores the previous one after, uses a unique keyring service
name (``INSIGHTFORGE_KEYRING_SERVICE``) so a developer's real entries are never touched, and
gives the environment a subprocess needs to reach the same backend.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SECRET_SERVICE = "keyring.backends.SecretService.Keyring"
FILE_BACKEND = "keyrings.alt.file.PlaintextKeyring"


def _secret_service_ready() -> bool:
    try:
        import secretstorage

        conn = secretstorage.dbus_init()
        collection = secretstorage.get_default_collection(conn)
        if collection.is_locked():
            collection.unlock()
        return not collection.is_locked()
    except Exception:
        return False


def _secrets_running() -> bool:
    """Whether a Secret Service owns its bus name (asked without activating one)."""
    try:
        from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped]
        from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

        bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus",
                          interface="org.freedesktop.DBus")
        with open_dbus_connection(bus="SESSION") as conn:
            reply = conn.send_and_get_reply(
                new_method_call(bus, "NameHasOwner", "s", ("org.freedesktop.secrets",)),
                timeout=5)
        return bool(reply.body[0])
    except Exception:
        return False


def _start_gnome_keyring() -> dict[str, str]:
    """Start gnome-keyring's secrets component, unlocked (the login keyring is created with
    the test password when missing), as ``scripts/test`` does."""
    binary = shutil.which("gnome-keyring-daemon")
    if binary is None:
        return {}
    out = subprocess.run([binary, "--unlock", "--components=secrets"],
                         input=b"insightforge-test\n",
                         capture_output=True, timeout=20, check=False).stdout.decode()
    found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    os.environ.update(found)
    return found


def secret_service_backend() -> Any | None:
    """The Secret Service keyring, ready to use, or ``None`` when there is no D-Bus session."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    if not _secrets_running():
        _start_gnome_keyring()  # before anything auto-activates a locked, prompting daemon
    if not _secret_service_ready():
        return None
    from keyring.backends import SecretService

    return SecretService.Keyring()  # type: ignore[no-untyped-call]


@contextmanager
def real_keyring(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Use a real backend for the duration; yields env vars for subprocesses."""
    import keyring

    service = f"insightforge-test-{uuid.uuid4().hex[:10]}"
    env = {"INSIGHTFORGE_KEYRING_SERVICE": service}
    backend = secret_service_backend()
    if backend is not None:
        env["PYTHON_KEYRING_BACKEND"] = SECRET_SERVICE
    else:
        from keyrings.alt.file import PlaintextKeyring  # type: ignore[import-untyped]

        data = tmp_path / "xdg-data"
        backend = PlaintextKeyring()
        backend.file_path = str(data / "python_keyring" / backend.filename)
        env.update(PYTHON_KEYRING_BACKEND=FILE_BACKEND, XDG_DATA_HOME=str(data))
    previous = keyring.get_keyring()
    saved = {k: os.environ.get(k) for k in (*env, "INSIGHTFORGE_NO_KEYRING")}
    os.environ.pop("INSIGHTFORGE_NO_KEYRING", None)
    os.environ.update(env)
    keyring.set_keyring(backend)
    try:
        yield env
    finally:
        _cleanup(backend, service)
        keyring.set_keyring(previous)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _cleanup(backend: Any, service: str) -> None:
    from insightforge.credentials import keyring_delete, keyring_names

    try:
        for name in keyring_names():
            keyring_delete(name)
        backend.delete_password(service, "__names__")
    except Exception:
        pass
