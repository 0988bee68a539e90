"""A real keyring backend for tests: gnome-keyring's Secret Service, always.

Under a D-Bus session (``scripts/test`` wraps pytest in ``dbus-run-session``), the Secret
Service of gnome-keyring is used, started and unlocked here if it is not running yet, with a
default collection. Without one (``pytest tests/cli`` from a plain shell), a private session
bus is started for this test process (``dbus-daemon --session``, stopped at exit) and
gnome-keyring in it, keeping its collection in a temporary folder. The fixture sets the
backend with ``keyring.set_keyring`` and restores the previous one after, uses a unique
keyring service name (``INSIGHTFORGE_KEYRING_SERVICE``) so a developer's real entries are
never touched, and gives the environment a subprocess needs to reach the same backend.

The tests never rely on keyring's own choice of backend (keyrings.alt is not a dependency,
not even of the dev extras: installed, it becomes keyring's choice on a headless machine).
When neither D-Bus nor gnome-keyring is installed, keyring tests are skipped naming the fix
(a failure under ``INSIGHTFORGE_REQUIRE_SERVICES``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

SECRET_SERVICE = "keyring.backends.SecretService.Keyring"


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


def _start_session_bus() -> bool:
    """A private D-Bus session bus for this process (stopped at exit); ``False`` when
    dbus-daemon is not installed."""
    binary = shutil.which("dbus-daemon")
    if binary is None:
        return False
    out = subprocess.run([binary, "--session", "--fork", "--nopidfile", "--print-address=1",
                          "--print-pid=1"], capture_output=True, timeout=20, check=False)
    lines = out.stdout.decode().split()
    if out.returncode != 0 or len(lines) < 2:
        return False
    address, pid = lines[0], int(lines[1])
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address

    def stop() -> None:
        with suppress(OSError):
            os.kill(pid, signal.SIGTERM)

    atexit.register(stop)
    return True


def _start_gnome_keyring() -> dict[str, str]:
    """Start gnome-keyring's secrets component, unlocked (the login keyring is created with
    the test password when missing) with its collection in a private folder, as
    ``scripts/test`` does."""
    binary = shutil.which("gnome-keyring-daemon")
    if binary is None:
        return {}
    data = tempfile.mkdtemp(prefix="insightforge-keyring-")
    atexit.register(shutil.rmtree, data, True)
    out = subprocess.run([binary, "--unlock", "--components=secrets"],
                         input=b"insightforge-test\n", env={**os.environ, "XDG_DATA_HOME": data},
                         capture_output=True, timeout=20, check=False).stdout.decode()
    found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    os.environ.update(found)
    return found


def secret_service_backend() -> Any | None:
    """The Secret Service keyring, ready to use (a private session bus started when there is
    none), or ``None`` when D-Bus or gnome-keyring is not installed."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and not _start_session_bus():
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
    if backend is None:
        from tests.services import missing

        missing("a keyring (D-Bus and gnome-keyring)",
                "run scripts/setup (apt: dbus-daemon gnome-keyring)")
    env["PYTHON_KEYRING_BACKEND"] = SECRET_SERVICE
    env["DBUS_SESSION_BUS_ADDRESS"] = os.environ["DBUS_SESSION_BUS_ADDRESS"]
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
