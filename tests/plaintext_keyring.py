"""A keyring backend that keeps keys in a plain JSON file — what keyrings.alt's
``PlaintextKeyring`` is, written here so the tests need no keyrings.alt (installed, it
becomes keyring's choice on a headless machine). A real backend (keyring's own API, a file
on disk), rated 0.5 as keyrings.alt rates its plaintext one: ``insightforge keys set`` must
refuse it without ``--allow-plaintext``.

A subprocess reaches it with ``PYTHON_KEYRING_BACKEND=tests.plaintext_keyring.PlainFile``,
``PYTHONPATH`` holding the repository root, and ``INSIGHTFORGE_TEST_KEYRING_FILE`` naming
the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

BACKEND = "tests.plaintext_keyring.PlainFile"


class PlainFile(KeyringBackend):
    """Keys in ``$INSIGHTFORGE_TEST_KEYRING_FILE`` as JSON: ``{service: {user: key}}``."""

    priority = 0.5  # type: ignore[assignment]  # as keyrings.alt's PlaintextKeyring

    @property
    def path(self) -> Path:
        return Path(os.environ["INSIGHTFORGE_TEST_KEYRING_FILE"])

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data.setdefault(service, {})[username] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if username not in data.get(service, {}):
            raise PasswordDeleteError(username)
        del data[service][username]
        self.path.write_text(json.dumps(data))
