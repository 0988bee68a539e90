"""`Emulator`: the public handle on one emulated-vendor server.

What lives here: starting the server on a loopback port in a background thread, the base
URLs each SDK needs, scripting faults, reading the request log, and a prompt `stop` (which
wakes stalled and delayed handlers and closes every open connection).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType

from .faults import Fault
from .records import RecordedRequest
from .server import EmulatorServer, ServerState

__all__ = ["Emulator"]


class Emulator:
    """A real HTTP server on loopback speaking the OpenAI, Azure OpenAI, Anthropic, Ollama
    and Hugging Face (TGI/TEI) wire formats, with scripted faults.

    ``api_keys``: when given, requests whose key is not one of these get a 401 in the
    vendor's shape; when None, any key (or none) is accepted. ``port=0`` picks a free port.

    ``log_limit`` keeps only the newest records in `requests` (None: all of them).

    Use it as a context manager (``with Emulator() as emu: ...``) or call `start` / `stop`.
    """

    def __init__(
        self, api_keys: Iterable[str] | None = None, port: int = 0, host: str = "127.0.0.1",
        *, log_limit: int | None = None,
    ) -> None:
        keys = None if api_keys is None else frozenset(
            [api_keys] if isinstance(api_keys, str) else api_keys
        )
        self._state = ServerState(keys, log_limit)
        self._address = (host, port)
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port and serve in a daemon thread; returns self. A no-op if running."""
        if self._server is not None:
            return self
        self._state.stopping.clear()
        server = EmulatorServer(self._address, self._state)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01},
            name=f"insightforge-emulator:{server.server_address[1]}", daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; returns promptly even mid-stall."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        self._state.stopping.set()
        server.shutdown()
        self._state.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=2.0)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<Emulator {where}>"

    # -- addresses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the server must be running)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() or use `with`")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host = self._address[0]
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def openai_url(self) -> str:
        """The OpenAI SDK's `base_url` (``url + "/v1"``); also any OpenAI-compatible client."""
        return self.url + "/v1"

    @property
    def azure_url(self) -> str:
        """The Azure OpenAI endpoint (deployments under ``/openai/deployments/...``)."""
        return self.url

    @property
    def anthropic_url(self) -> str:
        """The Anthropic base URL (``POST /v1/messages``)."""
        return self.url

    @property
    def ollama_url(self) -> str:
        """The Ollama host (``/api/chat``, ``/api/embed``, ``/api/tags``)."""
        return self.url

    @property
    def hf_url(self) -> str:
        """The Hugging Face TGI/TEI base URL (``url + "/hf"``)."""
        return self.url + "/hf"

    # -- faults and the log -------------------------------------------------------------

    def script(
        self, *faults: Fault, api: str | None = None, path: str | None = None,
        times: int | None = None,
    ) -> None:
        """Queue `faults`, applied one per matching request, in order.

        `api` / `path` limit faults that do not set their own filter; `times` repeats each
        fault (default: the fault's own `times`, i.e. once).
        """
        for fault in faults:
            if api is not None or path is not None:
                fault = fault.where(fault.api or api, fault.path or path)
            self._state.faults.add(fault, times)

    def pending_faults(self) -> int:
        """How many scripted fault applications have not happened yet."""
        return self._state.faults.pending()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until `stop` is called (True) or `timeout` passes (False)."""
        return self._state.stopping.wait(timeout)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start or the last `reset`, oldest first."""
        return self._state.log.snapshot()

    def count(self, api: str | None = None, path: str | None = None) -> int:
        """How many recorded requests match `api` and contain `path` in their path."""
        return self._state.log.count(api, path)

    def reset(self) -> None:
        """Clear the request log, the fault queue, the prompt cache and the id counter."""
        self._state.log.clear()
        self._state.faults.clear()
        self._state.prompt_cache.clear()
        self._state.reset_ids()
