"""Shared fixtures: a real Redis server, the loopback emulator, test credentials.

Test keys are fake but realistic in shape; ``tests/test_no_secret_leaks.py`` greps the
whole run's output for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.services import redis_server

# Fail the whole session if a test key shows up in any log line, report or warning.
pytest_plugins = ["tests.leakcheck"]

# Property tests judge behaviour, never speed: a loaded 2-core machine must not turn a
# slow example into a failure (speed is measured by bench/, not by tests).
settings.register_profile("insightforge", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("insightforge")

# Never let a developer's real keys or keyring leak into (or out of) the test run.
for _var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY", "HF_TOKEN",
             "OPENAI_BASE_URL", "INSIGHTFORGE_CONFIG"):
    os.environ.pop(_var, None)

TEST_OPENAI_KEY = "sk-proj-TESTKEYabcdefghijklmnopqrstuvwxyz0123456789"
TEST_ANTHROPIC_KEY = "sk-ant-api03-TESTKEYabcdefghijklmnopqrstuvwxyz0123456789"
TEST_HF_TOKEN = "hf_TESTTOKENabcdefghijklmnopqrstuvwxyz01"
TEST_AZURE_KEY = "0123456789abcdef0123456789abcdef"
TEST_KEYS = (TEST_OPENAI_KEY, TEST_ANTHROPIC_KEY, TEST_HF_TOKEN, TEST_AZURE_KEY)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server started for this test session."""
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    """A client on a freshly flushed database."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def _emulator_session() -> Iterator[Any]:
    from insightforge.testing.emulator import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator(_emulator_session: Any) -> Any:
    """The loopback emulator, with an empty request log and fault queue."""
    _emulator_session.reset()
    return _emulator_session
