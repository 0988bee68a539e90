"""A real HTTP server on loopback that emulates LLM vendors, with scripted faults.

It speaks the OpenAI, Azure OpenAI, Anthropic, Ollama and Hugging Face (TGI/TEI) wire
formats, answers deterministically (``"Echo: " + <last user message>``, one token per word)
and misbehaves on demand::

    from insightforge.testing.emulator import Emulator, Fault

    with Emulator() as emu:
        emu.script(Fault.status(429, retry_after=1), Fault.status(503), api="openai")
        client = openai.OpenAI(base_url=emu.openai_url, api_key="k", max_retries=0)
        ...
        assert emu.count(api="openai") == 3

Modules: `emulator` (the `Emulator` handle), `server` (HTTP, faults applied), `routes`
(routing, keys, error shapes), `faults`, `records`, `replies` (pure reply rules),
`wire_*` (one per vendor format), `refusals` (each vendor's content-policy refusal, as
`Fault`s), `cli` (`serve_forever`). Standard library only.
"""

from __future__ import annotations

from .emulator import Emulator
from .faults import Fault
from .records import RecordedRequest
from .refusals import refusal, stream_refusal

__all__ = ["Emulator", "Fault", "RecordedRequest", "refusal", "stream_refusal"]
