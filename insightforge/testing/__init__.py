"""Test tools that ship with InsightForge: the emulator, the conformance kit, hypothesis
strategies and the scripted test-double provider.

Import the pieces from their modules (``insightforge.testing.emulator``...); this package
imports nothing heavy by itself.
"""

from insightforge.testing.clock import FakeClock
from insightforge.testing.scripted import ScriptedProvider, StreamStep

__all__ = ["FakeClock", "ScriptedProvider", "StreamStep"]
