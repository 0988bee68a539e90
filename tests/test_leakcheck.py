"""tests/leakcheck.py fails a session whose output shows a test key, and passes a clean one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LEAKY = '''
import logging
from tests.conftest import TEST_OPENAI_KEY

def test_clean():
    logging.getLogger("x").debug("nothing here")

def test_logs_a_key():
    logging.getLogger("x").debug("key=%s", TEST_OPENAI_KEY)
'''


def _run(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_sample.py"
    test.write_text(body)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.leakcheck", "-q", "-o", "addopts=",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_a_leaked_key_fails_the_session(tmp_path: Path) -> None:
    result = _run(tmp_path, LEAKY)
    assert result.returncode == 1
    assert "test keys leaked" in result.stdout and "sk-pro…(51 chars)" in result.stdout
    assert "test_logs_a_key" in result.stdout and "test_clean" not in result.stdout


def test_a_clean_session_passes(tmp_path: Path) -> None:
    result = _run(tmp_path, LEAKY.split("def test_logs_a_key")[0])
    assert result.returncode == 0 and "leaked" not in result.stdout
