"""``config validate`` means "will build": each mistake that used to pass validation and fail
in ``chat`` is now a problem with its ``$.path``, and every config in the docs builds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from insightforge.config import load_config
from insightforge.config.build import check_builds
from insightforge.config.load import read_document
from insightforge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
OLLAMA = {"type": "ollama", "model": "llama3.1", "base_url": "http://127.0.0.1:9"}


def _problems(doc: Any, env: dict[str, str] | None = None) -> dict[str, str]:
    try:
        check_builds(load_config(doc, env=env or {}))
    except ConfigError as exc:
        return dict(exc.problems)
    return {}


def _doc(*stack: Any, **providers: Any) -> dict[str, Any]:
    return {"providers": providers or {"main": OLLAMA}, "stack": list(stack)}


@pytest.mark.parametrize(("doc", "path", "words"), [
    (_doc({"cache": {"store": "ftp://x"}}), "$.stack[0].cache.store", "a store must be"),
    (_doc({"budget": {"limit_usd": 1, "store": "redis://:pw@[::1/0"}}),
     "$.stack[0].budget.store", "cannot use the URL"),
    (_doc({"ratelimit": {"rpm": 5, "store": "postgres://db"}}),
     "$.stack[0].ratelimit.store", "a store must be"),
    (_doc(main={"type": "openai", "model": "gpt-4o", "api_key_ref": "env:IF_TEST_NOT_SET"}),
     "$.providers.main", "IF_TEST_NOT_SET"),
    (_doc(main={**OLLAMA, "options": {"temprature": 0.2}}), "$.providers.main.options.temprature",
     "temprature"),
    (_doc({"fallback": {"alternates": ["alt"], "on": ["ContentFilterd"]}},
          main=OLLAMA, alt=OLLAMA), "$.stack[0].fallback.on", "did you mean ContentFiltered"),
    (_doc({"ratelimit": {"rpm": 5, "key": "tenant"}}), "$.stack[0].ratelimit.key",
     "did you mean 'tag:tenant'"),
    (_doc({"audit": {"sink": "a.jsonl", "on_write_error": "ignore"}}),
     "$.stack[0].audit.on_write_error", "fail"),
])
def test_what_used_to_fail_only_in_chat_fails_validate(doc: Any, path: str,
                                                       words: str) -> None:
    found = _problems(doc)
    assert path in found, found
    assert words in found[path]


def test_yaml_1_1_on_stays_a_key() -> None:
    doc = read_document("providers:\n  main: {type: ollama, model: x}\n  alt: {type: ollama, "
                        "model: y}\nstack:\n  - fallback: {alternates: [alt], on: "
                        "[ContentFiltered]}\n")
    assert "on" in doc["stack"][0]["fallback"]
    config = load_config(doc)
    assert config.stack[0].options["on"] == ["ContentFiltered"]
    check_builds(config)


def test_a_good_config_builds_every_provider_and_layer() -> None:
    assert _problems(_doc({"audit": {"sink": "/tmp/if-validate/a.jsonl"}},
                          {"cache": {"ttl": 60, "store": "sqlite:////tmp/if-validate/c.db"}},
                          {"fallback": ["alt"]}, {"ratelimit": {"rpm": 5}}, {"retry": None},
                          main=OLLAMA, alt=OLLAMA)) == {}


def _yaml_blocks() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S):
            if "providers:" in block:
                found.append((str(path.relative_to(ROOT)), block))
    return found


@pytest.mark.parametrize(("where", "block"), _yaml_blocks())
def test_every_config_in_the_docs_validates_and_builds(where: str, block: str,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {name: "sk-docs-example-0000000000000000000000"
           for name in re.findall(r"\$\{(\w+)", block)}
    assert _problems(block, env) == {}, where
