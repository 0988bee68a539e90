"""The audit log under faults: a torn last line, a full disk, short writes, a failing sink.

Nothing is lost silently: a torn line is sealed and named, the chain goes on; a record that
cannot be written refuses requests (typed) or, when asked, serves and counts the gap; the
records kept while the disk was full are written when it has room again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from insightforge import AuditUnavailable, ChatRequest, stack
from insightforge.cli.audit import audit as audit_cli
from insightforge.testing.scripted import ScriptedProvider
from middleware.audit import AuditLog, FileSink, flush_all
from middleware.audit import chain as ch
from middleware.audit import writer as writer_module
from tests.services import small_disk


def _lines(path: Path) -> list[str]:
    flush_all()
    return path.read_text().splitlines()


def _records(path: Path) -> list[dict[str, Any]]:
    return [r for r in map(json.loads, _lines(path)) if "outcome" in r]


def _write(path: Path, n: int, **kw: Any) -> None:
    with stack(AuditLog(FileSink(path, **kw)), provider=ScriptedProvider()) as llm:
        for i in range(n):
            llm(ChatRequest(f"q{i}"))


# -- a torn last line ----------------------------------------------------------------------
@pytest.mark.parametrize("tail", [b'{"attempts":1,"cache":fal', b"garbage\n", b"\x00\x00\x00"])
def test_a_torn_last_line_is_sealed_and_the_chain_goes_on(tmp_path: Path, tail: bytes) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 3)
    with log.open("ab") as fh:  # a crash mid-write (or a power cut, or a full disk)
        fh.write(tail)
    torn_line = len(_lines(log))
    # a new process writes on, as if nothing had happened to it
    code = ("import sys; sys.path.insert(0, '.');"
            "from tests.middleware.test_audit_faults import _write; from pathlib import Path;"
            f"_write(Path({str(log)!r}), 2)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    report = ch.verify(_lines(log))
    assert report.ok and report.records == 5 and report.torn == (torn_line,)
    marker = [json.loads(x) for x in _lines(log) if '"type":"torn"' in x]
    assert marker[0]["torn_line"] == torn_line and marker[0]["torn_bytes"] == len(tail)
    result = CliRunner().invoke(audit_cli, ["verify", str(log)])
    assert result.exit_code == 0 and result.output.startswith("OK: 5 records")
    assert f"line {torn_line} is torn" in result.output


def test_a_sink_that_wrote_last_still_sees_what_others_appended(tmp_path: Path) -> None:
    """The sink remembers where its own last write ended (to skip reading the tail back);
    a record from another writer, or a torn tail, moves the end and is read again."""
    log = tmp_path / "audit.jsonl"
    first, other = FileSink(log), FileSink(log)  # two processes' sinks, as it were
    first.write({"n": 1})
    first.write({"n": 2})
    other.write({"n": 3})  # appended behind the first sink's back
    first.write({"n": 4})
    with log.open("ab") as fh:
        fh.write(b'{"n":5,"ha')  # and a crash in another writer
    first.write({"n": 6})
    first.close()
    other.close()
    report = ch.verify(_lines(log))
    assert report.ok and report.records == 5 and report.torn == (6,)
    whole = [line for line in _lines(log) if line.endswith("}")]
    assert [json.loads(x)["n"] for x in whole if '"n"' in x] == [1, 2, 3, 4, 6]


def test_a_torn_line_at_the_end_of_the_file_is_named_by_verify(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 2)
    with log.open("ab") as fh:
        fh.write(b'{"attempts":1,"ca')  # the process died here: nobody wrote since
    result = CliRunner().invoke(audit_cli, ["verify", str(log)])
    assert result.exit_code == 0 and "OK: 2 records" in result.output
    assert "line 4 is torn" in result.output


def test_an_edited_last_line_is_still_an_edit(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 2)
    lines = _lines(log)
    lines[-1] = lines[-1].replace('"ok"', '"OK"')
    log.write_text("\n".join(lines) + "\n")  # ends with its newline: not a crash
    result = CliRunner().invoke(audit_cli, ["verify", str(log)])
    assert result.exit_code == 1 and "line 3: edited" in result.output


def test_a_torn_line_in_the_middle_with_a_forged_seal_is_caught(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 2)
    with log.open("ab") as fh:
        fh.write(b"half a record\n")
    _write(log, 1)
    lines = _lines(log)
    marker = json.loads(lines[4])
    forged = ch.seal({**marker, "torn_line": 2}, marker["prev_hash"])  # points elsewhere
    lines[4] = ch.canonical(forged)
    assert not ch.verify(lines).ok


# -- a full disk ------------------------------------------------------------------------------
def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        for size in (4096, 512, 64, 8, 1):  # to the last byte
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError:
                pass
    return filler


def test_a_full_disk_refuses_requests_typed_then_writes_every_kept_record(tmp_path: Path,
                                                                        ) -> None:
    with small_disk(str(tmp_path / "disk")) as disk:
        log = Path(disk) / "audit.jsonl"
        provider = ScriptedProvider()
        llm = stack(AuditLog(FileSink(log, fsync="never")), provider=provider)
        llm(ChatRequest("before"))
        flush_all()
        filler = _fill(Path(disk))
        served, refused = 0, 0
        deadline = time.monotonic() + 10
        while refused == 0 and time.monotonic() < deadline:
            try:
                llm(ChatRequest("while full"))
                served += 1
            except AuditUnavailable as exc:
                refused += 1
                assert "No space left" in str(exc) or "full" in str(exc)
            flush_all()
        assert refused == 1, "requests were served unaudited on a full disk"
        calls_before = len(provider.calls)
        with pytest.raises(AuditUnavailable):
            llm(ChatRequest("still full"))
        assert len(provider.calls) == calls_before  # refused before any upstream call
        filler.unlink()  # room again: the writer retries by itself
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                llm(ChatRequest("after"))
                break
            except AuditUnavailable:
                time.sleep(0.2)
        records = _records(log)
        assert len(records) == 1 + served + 1  # before, every served request, after
        assert ch.verify(_lines(log)).ok


def test_fsync_always_fails_the_request_whose_record_cannot_be_written(tmp_path: Path) -> None:
    with small_disk(str(tmp_path / "disk")) as disk:
        log = Path(disk) / "audit.jsonl"
        llm = stack(AuditLog(FileSink(log, fsync="always")), provider=ScriptedProvider())
        llm(ChatRequest("ok"))
        _fill(Path(disk))
        written = len(_records(log))
        with pytest.raises(AuditUnavailable):  # the file's last page may hold a few more
            for _ in range(100):
                llm(ChatRequest("not durable"))
                assert len(_records(log)) == written + 1, "answered without its record"
                written += 1


def test_serve_keeps_serving_and_counts_the_gap(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "MAX_PENDING", 3)
    with small_disk(str(tmp_path / "disk")) as disk:
        log = Path(disk) / "audit.jsonl"
        layer = AuditLog(FileSink(log, fsync="never"), on_write_error="serve")
        llm = stack(layer, provider=ScriptedProvider())
        llm(ChatRequest("before"))
        flush_all()
        filler = _fill(Path(disk))
        served, after_failure = 0, 0
        while after_failure < 6:  # every one is served, the disk full or not
            assert llm(ChatRequest(f"served {served}")).text.startswith("Echo")  # type: ignore[union-attr]
            served += 1
            flush_all()
            after_failure += layer.status()["failing"] is not None
            assert served < 200, "the disk never filled"
        written = len(_records(log))  # "before" and the records that still fitted
        assert layer.status()["pending"] == 3
        filler.unlink()
        llm(ChatRequest("after"))
        deadline = time.monotonic() + 10
        while len(_records(log)) < written + 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        records = _records(log)
        assert len(records) == written + 3 + 1  # the 3 kept, and "after"
        lost = served - (written - 1) - 3
        assert lost > 0 and sum(r.get("gap", 0) for r in records) == lost
        assert ch.verify(_lines(log)).ok


# -- short writes -------------------------------------------------------------------------------
def test_a_short_write_is_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from middleware.audit import sinks

    real = os.write
    calls = {"n": 0}

    def short(fd: int, data: Any) -> int:  # the kernel may write less than asked
        calls["n"] += 1
        return real(fd, bytes(data[:7]))

    log = tmp_path / "audit.jsonl"
    monkeypatch.setattr(sinks.os, "write", short)
    FileSink(log).write({"outcome": "ok", "n": 1})
    monkeypatch.undo()
    assert calls["n"] > 10 and ch.verify(log.read_text().splitlines()).ok
