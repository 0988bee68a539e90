"""A fresh process's first calls, all at once: ``threads`` threads (half sync, half async)
whose very first requests go through ``Fallback(Ollama)`` around ``OpenAI`` while the
primary answers 503. Prints one JSON line: how many calls answered, failed typed, failed
untyped (with a few examples).

Run as ``python -m tests.providers._first_use_worker OPENAI_URL OLLAMA_URL [THREADS]``;
kept in its own light module so the child imports only what a user's program would.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading


def main(openai_url: str, ollama_url: str, threads: int = 16) -> dict[str, object]:
    from insightforge import ChatRequest, stack
    from insightforge.errors import InsightForgeError
    from middleware import Fallback
    from providers import Ollama, OpenAI

    local = stack(provider=Ollama(model="llama3.1", base_url=ollama_url, timeout=10))
    llm = stack(Fallback(local),
                provider=OpenAI(model="gpt-4o-mini", base_url=openai_url, timeout=10,
                                api_key="sk-first-use-000000000000000000000000000000"))
    barrier = threading.Barrier(threads)
    lock = threading.Lock()
    tally: dict[str, object] = {"ok": 0, "typed": 0, "untyped": 0, "examples": []}

    def count(error: BaseException | None) -> None:
        with lock:
            if error is None:
                key = "ok"
            elif isinstance(error, InsightForgeError):
                key = "typed"
            else:
                key = "untyped"
                examples = tally["examples"]
                assert isinstance(examples, list)
                if len(examples) < 3:
                    examples.append(f"{type(error).__name__}: {error}")
            tally[key] = int(str(tally[key])) + 1

    def one(i: int) -> None:
        barrier.wait()
        request = ChatRequest(f"first call {i}", max_tokens=8)
        try:
            if i % 2:
                asyncio.run(llm.acall(request))
            else:
                llm(request)
        except Exception as exc:  # the point: count what escapes, typed or not
            count(exc)
        else:
            count(None)

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    llm.close()
    return tally


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(args[0], args[1], int(args[2]) if len(args) > 2 else 16)))
