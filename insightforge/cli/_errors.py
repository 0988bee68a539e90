"""Turn exceptions into one clear line and a documented exit code (never a traceback).

``-v``/``--verbose`` prints the traceback too. Exit codes: 0 ok, 1 provider or layer failure,
2 usage or configuration error, 3 missing credential, 4 an answer cut at the length limit,
5 an answer stopped by the content filter, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import errno
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import click

from insightforge.errors import (
    ConfigError,
    ContentFiltered,
    CredentialError,
    InsightForgeError,
    StoreUnavailable,
)
from insightforge.secrets import mask_url, scrub

__all__ = ["EXIT_CONFIG", "EXIT_CREDENTIAL", "EXIT_FAILURE", "EXIT_FILTERED", "EXIT_LENGTH",
           "EXIT_OK", "CommandError",
           "exit_code", "listening", "open_shared_store", "reaching", "run", "safe_location"]

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_CREDENTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_LENGTH, EXIT_FILTERED = 4, 5


class CommandError(click.ClickException):
    """Bad usage no option parser catches (a port in use...): one line, exit code 2."""

    exit_code = EXIT_CONFIG


@contextlib.contextmanager
def listening(host: str, port: int) -> Iterator[None]:
    """Turn a failure to bind ``host:port`` into a :class:`CommandError` naming the fix."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        why = {errno.EADDRINUSE: "the port is in use", errno.EACCES: "permission denied",
               }.get(exc.errno, "no such local address")
        raise CommandError(f"cannot listen on {host}:{port} ({why}); pick another --port "
                           "(0 picks a free one) or --host") from None


def safe_location(spec: str) -> str:
    """A store's path or URL for a message, any password in the URL masked."""
    return mask_url(spec)


def _store_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    found: list[type[BaseException]] = [OSError, sqlite3.Error]
    with contextlib.suppress(ImportError):
        import redis.exceptions

        found.append(redis.exceptions.RedisError)
    return tuple(found)


@contextlib.contextmanager
def reaching(what: str, spec: str, option: str) -> Iterator[None]:
    """Turn a store that cannot be opened or reached (``cache stats``, ``budget status``)
    into one line naming it and the fix (exit code 1)."""
    try:
        yield
    except StoreUnavailable as exc:
        raise click.ClickException(
            f"cannot use the {what} at {safe_location(spec)} ({exc.reason}); check that it "
            f"is running and reachable (or the file's directory exists and is writable), or "
            f"name another with {option}") from None
    except _store_errors() as exc:
        raise click.ClickException(
            f"cannot use the {what} at {safe_location(spec)} ({type(exc).__name__}: "
            f"{scrub(str(exc))}); check that it is running and reachable (or the file's "
            f"directory exists and is writable), or name another with {option}") from None


def exit_code(exc: BaseException) -> int:
    """The documented exit code of ``exc`` (an error may carry its own, ``exit_code``)."""
    own = getattr(exc, "exit_code", None)
    if isinstance(own, int) and not isinstance(own, bool):
        return own
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, CredentialError):
        return EXIT_CREDENTIAL
    if isinstance(exc, ContentFiltered):
        return EXIT_FILTERED
    return EXIT_FAILURE


def run(group: click.Group, argv: list[str] | None = None) -> int:
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    try:
        # with standalone_mode=False, click returns ctx.exit(n)'s code instead of raising
        result = group.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except InsightForgeError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"Error: {scrub(str(exc))}", err=True)
        return exit_code(exc)
    except Exception as exc:  # the last line of defence: still one line, still scrubbed
        if verbose:
            traceback.print_exc()
        click.echo(f"Error: {type(exc).__name__}: {scrub(str(exc))} (run with -v for details)",
                   err=True)
        return EXIT_FAILURE
    return result if isinstance(result, int) else EXIT_OK


def open_shared_store(spec: str, *, what: str, option: str, build: Any) -> Any:
    """Open the store an inspection command reads (``cache stats``, ``budget status``):
    a memory store is a usage error (it lives inside its process), a SQLite file that does
    not exist is one line (never created: an inspection command writes nothing), and a
    store that cannot be reached is one line naming it and ``option``."""
    from pathlib import Path

    from middleware.stores import parse_store

    parsed = parse_store(spec, option)
    if parsed.kind == "sqlite" and not Path(parsed.location).is_file():
        raise click.ClickException(
            f"cannot use the {what} at {safe_location(spec)} (no such file); check the path "
            f"(relative paths start at the current folder), or name another with {option}")
    with reaching(what, spec, option):
        return build(spec)
