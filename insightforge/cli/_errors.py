"""Turn exceptions into one clear line and a documented exit code (never a traceback).

``-v``/``--verbose`` prints the traceback too. Exit codes: 0 ok, 1 provider or layer failure,
2 usage or configuration error, 3 missing credential, 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback

import click

from insightforge.errors import ConfigError, CredentialError, InsightForgeError
from insightforge.secrets import scrub

__all__ = ["EXIT_CONFIG", "EXIT_CREDENTIAL", "EXIT_FAILURE", "EXIT_OK", "exit_code", "run"]

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_CREDENTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, CredentialError):
        return EXIT_CREDENTIAL
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
