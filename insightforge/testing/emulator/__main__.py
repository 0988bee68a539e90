"""``python -m insightforge.testing.emulator``: serve the emulator until Ctrl-C."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
