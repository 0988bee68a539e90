"""Relative paths in a config file start at the file's folder (insightforge.config.paths),
done once where a file is loaded; a dict or YAML text keeps the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge.config import load_config
from insightforge.config.paths import anchor, anchor_store
from middleware.stores import parse_store

BASE = Path("/srv/conf")
NAMES = st.text(alphabet="abcxyz_-", min_size=1, max_size=8)


@given(st.lists(NAMES, min_size=1, max_size=3), st.sampled_from([".db", ".sqlite"]),
       st.sampled_from(["sqlite:///{}", "sqlite:{}", "{}"]))
def test_a_relative_sqlite_file_becomes_absolute_and_stays_the_same_file(
        parts: list[str], suffix: str, form: str) -> None:
    relative = "/".join(parts) + suffix
    spec = anchor_store(form.format(relative), BASE)
    parsed = parse_store(spec)
    assert parsed.kind == "sqlite" and parsed.location == str(BASE / relative)


@pytest.mark.parametrize("spec", ["memory", "redis://:pw@h:6379/0", "sqlite:////abs/b.db",
                                  "/abs/b.db", "not a store"])
def test_other_specs_are_left_as_written(spec: str) -> None:
    assert parse_store(anchor_store(spec, BASE)).location == parse_store(spec).location \
        if spec != "not a store" else anchor_store(spec, BASE) == spec


def test_every_layer_option_that_names_a_file_nested_stacks_too() -> None:
    doc = {"providers": {}, "stack": [
        {"audit": {"sink": "logs/a.jsonl"}},
        {"cache": {"store": "sqlite:///c.db", "ttl": 60}},
        {"budget": {"ledger": "b.db", "limit_usd": 1}},
        {"fallback": {"alternates": [{"stack": [{"ratelimit": {"store": "r.db"}}],
                                      "provider": "x"}], "on": ["Timeout"]}},
        {"fallback": ["x", {"stack": [{"audit": {"sink": "~/h.jsonl"}}], "provider": "y"}]},
        "retry"]}
    out = anchor(doc, BASE)
    stack = out["stack"]
    assert stack[0] == {"audit": {"sink": "/srv/conf/logs/a.jsonl"}}
    assert stack[1] == {"cache": {"store": "sqlite:////srv/conf/c.db", "ttl": 60}}
    assert stack[2] == {"budget": {"ledger": "/srv/conf/b.db", "limit_usd": 1}}
    assert stack[3]["fallback"]["alternates"][0]["stack"] == [
        {"ratelimit": {"store": "/srv/conf/r.db"}}]
    assert stack[3]["fallback"]["on"] == ["Timeout"]
    assert stack[4]["fallback"][1]["stack"] == [
        {"audit": {"sink": str(Path.home() / "h.jsonl")}}]
    assert stack[5] == "retry" and doc["stack"][0] == {"audit": {"sink": "logs/a.jsonl"}}


def test_loaded_from_a_file_paths_start_at_its_folder(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "insightforge.yaml").write_text(
        "providers: {m: {type: ollama, model: x}}\n"
        "stack: [{audit: {sink: a.jsonl}}, {budget: {limit_usd: 1, store: 'sqlite:b.db'}}]\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for source in ("../conf/insightforge.yaml", folder / "insightforge.yaml"):
        stack = load_config(source).stack
        assert stack[0].options["sink"] == str(folder / "a.jsonl")
        assert stack[1].options["store"] == f"sqlite:///{folder / 'b.db'}"
    doc = {"providers": {"m": {"type": "ollama", "model": "x"}},
           "stack": [{"audit": {"sink": "a.jsonl"}}]}
    assert load_config(doc).stack[0].options["sink"] == "a.jsonl"  # a dict: as written
