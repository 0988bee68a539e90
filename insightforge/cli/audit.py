"""``insightforge audit verify [FILE]`` and ``insightforge audit tail [FILE]``.

Without FILE, the ``sink`` of the config's ``audit`` layer (relative paths there start at the
config file's folder): the file ``chat`` writes.

``verify`` walks the hash chain (:func:`middleware.audit.chain.verify`): exit 0 and
``OK: N records``, or exit 1 naming the first bad line and why (edited, inserted, deleted,
reordered). With rotation, the files a header points back to are checked too. ``tail``
prints the last records readably (or as JSON lines with ``--json``), and ``-f`` follows the
file as records are appended, across rotations. A FILE that is missing (or a directory)
is a usage error: one line, exit code 2.

This module only reads files; it never writes or repairs an audit log.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from insightforge.cli._errors import CommandError

__all__ = ["audit", "follow", "format_record"]


@click.group()
def audit() -> None:
    """Check and read audit logs written by the AuditLog layer."""


def _configured(ctx: click.Context) -> Path:
    """The ``sink`` of the first ``audit`` layer of the config, or a usage error."""
    from insightforge.cli._setup import config_file
    from insightforge.config import load_config

    found = config_file(ctx)
    if found is None:
        raise CommandError("give the audit FILE (no config file found to take it from: "
                           "--config, INSIGHTFORGE_CONFIG, ./insightforge.yaml)")

    def walk(layers: Any) -> str | None:
        for layer in layers:
            sink = layer.options.get("sink")
            if layer.name == "audit" and isinstance(sink, (str, os.PathLike)):
                return os.fspath(sink)
            for alt in layer.alternates:
                hit = walk(getattr(alt, "layers", ()))
                if hit:
                    return hit
        return None

    sink = walk(load_config(found).stack)
    if sink is None:
        raise CommandError(f"give the audit FILE ({found} has no audit layer with a sink)")
    return Path(sink)


def _lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"{path}: no such audit file; pass the file an AuditLog layer writes "
                           "(its `sink:` in the config's stack)") from None
    except IsADirectoryError:
        raise CommandError(f"{path} is a directory; pass an audit .jsonl file") from None
    except PermissionError:
        raise CommandError(f"{path}: permission denied; run as a user who can read it") from None
    text = data.decode("ascii", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


@audit.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--follow-rotation/--no-follow-rotation", default=True, show_default=True,
              help="Also verify the earlier files a rotated file's header points to.")
@click.pass_context
def verify(ctx: click.Context, file: Path | None, follow_rotation: bool) -> None:
    """Verify the hash chain of FILE; exit 1 naming the first bad line.

    Without FILE: the audit layer's sink in the config. A FILE that does not exist (or is
    a directory) is a usage error: exit code 2.
    """
    from middleware.audit.chain import verify as chain_verify

    file = file or _configured(ctx)

    def check(path: Path) -> Any:
        return chain_verify(_lines(path), ended=path.read_bytes().endswith(b"\n"))

    report = check(file)
    if report.problem is not None:
        click.echo(f"FAIL: {file}: {report.problem}", err=False)
        ctx.exit(1)
    click.echo(f"OK: {report.records} records (last hash {report.last_hash[:16]})")
    for line in report.torn:
        click.echo(f"note: line {line} is torn: a write cut short (a crash, a power cut or a "
                   "full disk); sealed, and every record around it verifies")
    prev_name = _prev_file(file)
    expected = report.first_prev
    while follow_rotation and prev_name:
        prev_path = file.with_name(prev_name)
        if not prev_path.exists():
            click.echo(f"note: earlier file {prev_name} is not here; not checked")
            break
        earlier = check(prev_path)
        if earlier.problem is not None:
            click.echo(f"FAIL: {prev_path}: {earlier.problem}")
            ctx.exit(1)
        if earlier.last_hash != expected:
            click.echo(f"FAIL: {prev_path}: deleted — its last record is not the one the next "
                       "file's header points to (records missing at its end)")
            ctx.exit(1)
        click.echo(f"OK: {prev_path.name}: {earlier.records} records")
        expected, prev_name = earlier.first_prev, _prev_file(prev_path)


def _prev_file(path: Path) -> str | None:
    with path.open("rb") as fh:
        first = fh.readline()
    try:
        head = json.loads(first)
    except ValueError:
        return None
    name = head.get("prev_file") if isinstance(head, dict) else None
    return name if isinstance(name, str) and os.sep not in name else None


def format_record(record: dict[str, Any]) -> str:
    """One readable line: time, outcome, who answered, latency, tokens, cost, tags."""
    if record.get("type") == "header":
        prev = record.get("prev_file")
        return f"{record.get('ts', '')} -- chain start" + (f" (continues {prev})" if prev else "")
    parts = [str(record.get("ts", "?")), f"{record.get('outcome', '?'):9}"]
    who = f"{record.get('provider') or '?'}/{record.get('model') or '?'}"
    parts.append(who)
    if record.get("latency_ms") is not None:
        parts.append(f"{float(record['latency_ms']):.0f}ms")
    if record.get("ttft_ms") is not None:
        parts.append(f"ttft={float(record['ttft_ms']):.0f}ms")
    usage = record.get("usage") or {}
    if usage:
        parts.append(f"in={usage.get('input_tokens', 0)} out={usage.get('output_tokens', 0)}")
    if record.get("cost_usd") is not None:
        parts.append(f"${record['cost_usd']}")
    if (record.get("attempts") or 1) > 1:
        parts.append(f"attempts={record['attempts']}")
    if record.get("fallbacks"):
        parts.append(f"fallbacks={record['fallbacks']}")
    if record.get("cache"):
        parts.append("[cache]")
    tags = record.get("tags") or {}
    if tags:
        parts.append(" ".join(f"{k}={v}" for k, v in sorted(tags.items())))
    if record.get("error_type"):
        parts.append(f"{record['error_type']}: {record.get('error') or ''}".rstrip(": "))
    return "  ".join(parts)


def _show(line: str, as_json: bool) -> str:
    if as_json:
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return f"(unreadable line) {line[:80]}"
    return format_record(record) if isinstance(record, dict) else line


def follow(path: Path, *, poll: float = 0.5, stop: Callable[[], bool] = lambda: False,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """Yield lines appended to ``path`` from now on; reopens when the file is rotated."""
    fh = path.open("r", encoding="ascii", errors="replace")
    fh.seek(0, os.SEEK_END)
    ino = os.fstat(fh.fileno()).st_ino
    buf = ""
    try:
        while not stop():
            chunk = fh.read()
            if chunk:
                buf += chunk
                *done, buf = buf.split("\n")
                yield from done
                continue
            try:
                if os.stat(path).st_ino != ino:
                    fh.close()
                    fh = path.open("r", encoding="ascii", errors="replace")
                    ino = os.fstat(fh.fileno()).st_ino
                    continue
            except FileNotFoundError:
                pass
            sleep(poll)
    finally:
        fh.close()


@audit.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=10,
              show_default=True, help="How many of the last records to print.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON lines.")
@click.option("-f", "--follow", "follow_", is_flag=True, help="Keep printing new records.")
@click.pass_context
def tail(ctx: click.Context, file: Path | None, count: int, as_json: bool,
         follow_: bool) -> None:
    """Print the last records of FILE readably (or as JSON with --json).

    Without FILE: the audit layer's sink in the config. A FILE that does not exist (or is
    a directory) is a usage error: exit code 2.
    """
    file = file or _configured(ctx)
    for line in deque(_lines(file), maxlen=count) if count else ():
        click.echo(_show(line, as_json))
    if follow_:
        try:
            for line in follow(file):
                click.echo(_show(line, as_json))
        except KeyboardInterrupt:
            return
