"""Benchmark: the gateway against the upstream it fronts, side by side, and a streaming load.

Run: ``.venv/bin/python bench/gateway.py [--clients 200] [--seconds 8]
[--upstream-latency 0 0.5] [--streams 500]``

Processes: the emulator (the upstream, its listen backlog raised to 1024 so 200 direct
clients can connect), ``insightforge serve`` (the gateway: audit log, per-key budget, cache
miss — every prompt unique —, retry; one worker) and this script (the client). The client is
a lean asyncio HTTP/1.1 client (keep-alive, one connection per simulated client), so its own
cost is small and the same for both targets.

For each ``--upstream-latency`` (seconds the emulator waits before every answer, as a real
model does; 0: it answers at once, so the run pits the gateway's CPU against the
emulator's on the same cores; with a latency the provider's pool holds ``--clients``
connections):

1. **Throughput and latency at ``--clients`` concurrency**: the same non-streamed chat
   request, to the emulator directly (the floor) and through the gateway, for ``--seconds``
   each, interleaved twice; requests/s and median latency, and their ratios; and the CPU
   time each process spent per request (from /proc), which bounds the zero-latency ratio.
2. **Added latency, unloaded**: one client, sequential requests, median of each target.
3. **The floor of the server stack**: 1 and 2 again with bench/_passthrough.py in the
   gateway's place — uvicorn (httptools, uvloop), Starlette and an aiohttp pool with no logic
   at all. What it adds is the least any gateway on these components adds on this machine;
   with every client starting at once, each burst queues behind the one process's CPU, so
   even this floor adds milliseconds, not microseconds, at 200 clients.

Then, once:

4. **``--streams`` concurrent streaming clients** over ``--tenants`` virtual keys with
   budgets: every stream must come back whole, once, with its own text (a unique prompt
   per client), and each key's ledger spend must equal the sum of the costs the audit log
   recorded for it, nothing left reserved.

:func:`stream_load` and :class:`Raw` are also used by tests/gateway/test_load.py (short form).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEY = "sk-bench-0000000000000000000000000000"
_PROMPTS = itertools.count()


class Raw:
    """One keep-alive HTTP/1.1 connection: POST JSON, read a sized or chunked body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    overheads: list[float] = []  # X-InsightForge-Overhead-Ms of every gateway answer

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: "
                          f"application/json\r\nContent-Length: {len(body)}\r\n{head}\r\n"
                          .encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.lower(): v.strip() for k, _, v in
                  (line.partition(":") for line in lines[1:] if line)}
        if "x-insightforge-overhead-ms" in fields:
            Raw.overheads.append(float(fields["x-insightforge-overhead-ms"]))
        if "content-length" in fields:
            return status, await self.reader.readexactly(int(fields["content-length"]))
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(data[:-2])
        return status, b"".join(parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _timed(url: tuple[str, int, str], clients: int, seconds: float,
                 headers: dict[str, str], model: str) -> tuple[float, list[float]]:
    host, port, path = url
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    counter = _PROMPTS  # every prompt of the run unique: the gateway's cache always misses

    async def one(n: int) -> None:
        conn = Raw(host, port)
        try:
            while time.perf_counter() < stop:
                body = json.dumps({"model": model, "messages": [
                    {"role": "user", "content": f"bench {n} {next(counter)} one two three"}]})
                began = time.perf_counter()
                status, _ = await conn.post(path, body.encode(), headers)
                latencies.append(time.perf_counter() - began)
                if status != 200:
                    raise RuntimeError(f"status {status}")
        finally:
            conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(clients)))
    return len(latencies) / (time.perf_counter() - began), latencies


async def _sdk_timed(base_url: str, key: str, clients: int, seconds: float,
                     ) -> tuple[float, list[float]]:
    """Like :func:`_timed`, with the openai SDK (``AsyncOpenAI``) as the client."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=60)
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    counter = _PROMPTS

    async def one(n: int) -> None:
        while time.perf_counter() < stop:
            began = time.perf_counter()
            await client.chat.completions.create(model="gpt-4o-mini", messages=[
                {"role": "user", "content": f"sdk {n} {next(counter)} one two three"}])
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(clients)))
    rate = len(latencies) / (time.perf_counter() - began)
    await client.close()
    return rate, latencies


async def stream_load(host: str, port: int, keys: list[str], streams: int,
                      model: str = "gpt-4o-mini") -> dict[str, Any]:
    """``streams`` concurrent streaming clients, round-robin over ``keys``; checks each."""
    results: dict[str, Any] = {"ok": 0, "refused": 0, "bad": [], "statuses": defaultdict(int)}

    async def one(n: int) -> None:
        conn = Raw(host, port)
        prompt = f"stream {n} " + " ".join(f"w{n}x{i}" for i in range(12))
        body = json.dumps({"model": model, "stream": True, "max_tokens": 64,
                           "messages": [{"role": "user", "content": prompt}]}).encode()
        try:
            status, data = await conn.post("/v1/chat/completions", body,
                                           {"Authorization": f"Bearer {keys[n % len(keys)]}"})
        finally:
            conn.close()
        results["statuses"][status] += 1
        if status == 429:
            results["refused"] += 1
            return
        events = [line[6:] for line in data.decode().split("\n") if line.startswith("data: ")]
        text = "".join((json.loads(e)["choices"] or [{}])[0].get("delta", {}).get("content")
                       or "" for e in events[:-1])
        if status != 200 or events[-1] != "[DONE]" or text != f"Echo: {prompt}":
            results["bad"].append((n, status, text[:80]))
        else:
            results["ok"] += 1

    await asyncio.gather(*(one(n) for n in range(streams)))
    return results


def audit_costs(path: Path) -> dict[str, Decimal]:
    """Sum of recorded costs per key id in an audit log."""
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for line in path.read_text().splitlines():
        record = json.loads(line)
        key_id = (record.get("tags") or {}).get("key_id")
        if key_id and record.get("cost_usd"):
            costs[key_id] += Decimal(record["cost_usd"])
    return costs


def _emulator(port: int, latency: float = 0.0) -> subprocess.Popen[bytes]:
    """The emulator in its own process; ``latency``: every answer waits that many seconds
    first (a scripted ``Fault.delay``), as a real model does."""
    code = ("from insightforge.testing.emulator.server import EmulatorServer\n"
            "EmulatorServer.request_queue_size = 1024\n"
            "from insightforge.testing.emulator import Emulator, Fault\n"
            f"with Emulator(port={port}, log_limit=1000) as emu:\n"
            f"    if {latency!r} > 0:\n"
            f"        emu.script(Fault.delay({latency!r}), times=10**9)\n"
            "    print('emulator listening', flush=True)\n"
            "    emu.wait_stopped()\n")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


def _passthrough(upstream: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """bench/_passthrough.py: the same server stack with no logic (the floor of any gateway
    on it), listening on ``port`` once this returns."""
    proxy = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_passthrough.py")),
                              upstream, str(port), str(workers)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proxy
        except OSError:
            time.sleep(0.05)
    proxy.terminate()
    raise RuntimeError("the pass-through proxy did not start listening")


def _config(emu: str, tmp: Path, pool: int = 16) -> dict[str, Any]:
    return {"providers": {"openai": {"type": "openai", "model": "gpt-4o-mini",
                                     "base_url": emu + "/v1", "api_key": KEY, "timeout": 30,
                                     "max_connections": pool}},
            "stack": [{"audit": {"sink": str(tmp / "audit.jsonl")}},
                      {"cache": {"ttl": 600}}, {"retry": {"attempts": 2}}],
            "models": {"gpt-4o-mini": {"provider": "openai"}},
            "gateway": {"keys": f"sqlite:///{tmp / 'keys.db'}",
                        "store": f"sqlite:///{tmp / 'gateway.db'}"}}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and its children that are alive
    (``--workers``), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def trace_check_cost() -> tuple[float, float]:
    """µs of process CPU the edge's trace-context check adds per request with no SDK: the
    header scan of a request without ``traceparent``, and ``remote_parent`` with one."""
    import timeit

    from insightforge.gateway.tracing import trace_fields
    from middleware.otel.context import remote_parent

    headers = [(b"host", b"gw"), (b"content-type", b"application/json"),
               (b"content-length", b"120"), (b"authorization", b"Bearer ifk_x"),
               (b"user-agent", b"OpenAI/Python"), (b"accept", b"application/json")]
    traced = [*headers, (b"traceparent",
                         b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]

    def scan() -> None:
        fields = trace_fields()
        for name, _ in headers:
            if name in fields:
                pass

    def attach() -> None:
        with remote_parent(traced):
            pass

    n = 20000
    best = [min(timeit.repeat(fn, number=n, repeat=5, timer=time.process_time)) / n * 1e6
            for fn in (scan, attach)]
    return best[0], best[1]


def _serve(config: dict[str, Any], tmp: Path, port: int, workers: int,
           name: str) -> subprocess.Popen[bytes]:
    (tmp / f"{name}.json").write_text(json.dumps(config))
    gw = subprocess.Popen([sys.executable, "-c", "from insightforge.cli import main; main()",
                           "--config", str(tmp / f"{name}.json"), "serve", "--port", str(port),
                           "-q", "--workers", str(workers)], stdout=subprocess.PIPE,
                          env={**os.environ, "INSIGHTFORGE_GATEWAY_KEYS": ""})
    assert gw.stdout is not None
    gw.stdout.readline()  # listening (requests wait in the backlog until the app is up)
    return gw


async def side_by_side(direct: tuple[str, int, str], gate: tuple[str, int, str],
                       up: dict[str, str], auth: dict[str, str], clients: int, seconds: float,
                       pids: dict[str, int]) -> dict[str, Any]:
    """Throughput and latency of both targets at ``clients`` concurrency, interleaved twice,
    with the CPU seconds each process spent per request in each target's phases."""
    await _timed(direct, clients, 1.0, up, "gpt-4o-mini")  # warm both
    await _timed(gate, clients, 1.0, auth, "gpt-4o-mini")
    rates: dict[str, list[float]] = defaultdict(list)
    lats: dict[str, list[float]] = defaultdict(list)
    cpu: dict[tuple[str, str], float] = defaultdict(float)
    for _ in range(2):
        for name, url, headers in (("direct", direct, up), ("gateway", gate, auth)):
            before = {p: cpu_seconds(pid) for p, pid in pids.items()}
            rate, latencies = await _timed(url, clients, seconds / 2, headers, "gpt-4o-mini")
            for p, pid in pids.items():
                cpu[(name, p)] += (cpu_seconds(pid) - before[p]) / max(1, len(latencies))
            rates[name].append(rate)
            lats[name].extend(latencies)
    return {"direct": statistics.mean(rates["direct"]),
            "gateway": statistics.mean(rates["gateway"]),
            "direct_median": statistics.median(lats["direct"]),
            "gateway_median": statistics.median(lats["gateway"]),
            "cpu": {k: v / 2 for k, v in cpu.items()}}


async def sequential(direct: tuple[str, int, str], gate: tuple[str, int, str],
                     up: dict[str, str], auth: dict[str, str], seconds: float,
                     ) -> tuple[float, float]:
    """Median latency of one client, sequential requests, to each target (interleaved)."""
    seq: dict[str, list[float]] = defaultdict(list)
    for _ in range(3):
        for name, url, headers in (("direct", direct, up), ("gateway", gate, auth)):
            _, found = await _timed(url, 1, seconds / 3, headers, "gpt-4o-mini")
            seq[name].extend(found)
    return statistics.median(seq["direct"]), statistics.median(seq["gateway"])


def mode(latency: float, args: argparse.Namespace, tmp: Path) -> None:
    """One upstream (zero or ``latency`` seconds per answer) and its gateway, side by side."""
    from insightforge.gateway.keystore import keystore_from, ops
    from tests.services import free_port

    emu_port, gw_port = free_port(), free_port()
    emu = _emulator(emu_port, latency)
    assert emu.stdout is not None
    emu.stdout.readline()
    # a real model's latency needs a pool that holds every client's call at once
    config = _config(f"http://127.0.0.1:{emu_port}", tmp,
                     pool=16 if latency == 0 else max(16, args.clients))
    store = keystore_from(config["gateway"]["keys"])
    bench_key, _ = ops.create(store, "bench", budget=(Decimal(10**6), "total"))
    store.close()
    gw = _serve(config, tmp, gw_port, args.workers, f"config-{latency}")
    px_port = free_port()
    proxy = _passthrough(f"http://127.0.0.1:{emu_port}", px_port, args.workers)
    try:
        direct = ("127.0.0.1", emu_port, "/v1/chat/completions")
        gate = ("127.0.0.1", gw_port, "/v1/chat/completions")
        floor = ("127.0.0.1", px_port, "/v1/chat/completions")
        auth = {"Authorization": f"Bearer {bench_key}"}
        up = {"Authorization": f"Bearer {KEY}"}

        async def measure() -> None:
            Raw.overheads.clear()
            r = await side_by_side(direct, gate, up, auth, args.clients, args.seconds,
                                   {"gateway": gw.pid, "emulator": emu.pid})
            d, g, dm, gm = r["direct"], r["gateway"], r["direct_median"], r["gateway_median"]
            print(f"upstream latency {latency:g} s, {args.clients} clients: upstream direct "
                  f"{d:7.0f} req/s, median {dm * 1000:7.2f} ms | gateway {g:7.0f} req/s, "
                  f"median {gm * 1000:7.2f} ms | throughput ratio {g / d:.3f}, median "
                  f"latency ratio {gm / dm:.3f} (added {(gm - dm) * 1000:.2f} ms)")
            c = r["cpu"]
            print(f"  CPU per request: emulator {c[('direct', 'emulator')] * 1e3:.3f} ms "
                  f"direct, {c[('gateway', 'emulator')] * 1e3:.3f} ms via the gateway; "
                  f"gateway process {c[('gateway', 'gateway')] * 1e3:.3f} ms")
            f = await side_by_side(direct, floor, up, up, args.clients, args.seconds,
                                   {"gateway": proxy.pid, "emulator": emu.pid})
            print(f"  the floor of this server stack (bench/_passthrough.py: uvicorn + Starlette "
                  f"+ aiohttp, no logic), same run: {f['gateway']:7.0f} req/s, median "
                  f"{f['gateway_median'] * 1000:.2f} ms | throughput ratio "
                  f"{f['gateway'] / f['direct']:.3f}, added median "
                  f"{(f['gateway_median'] - f['direct_median']) * 1000:.2f} ms; CPU per request "
                  f"{f['cpu'][('gateway', 'gateway')] * 1e3:.3f} ms")
            if args.sdk_client:
                sdk = {}
                for name, base, key in (("direct", f"http://127.0.0.1:{emu_port}/v1", KEY),
                                        ("gateway", f"http://127.0.0.1:{gw_port}/v1",
                                         bench_key)):
                    sdk[name] = await _sdk_timed(base, key, args.clients, args.seconds / 2)
                (sd_, sl), (sg_, gl) = sdk["direct"], sdk["gateway"]
                print(f"  {args.clients} openai-SDK clients (AsyncOpenAI, one process): "
                      f"direct {sd_:6.0f} req/s, median {statistics.median(sl) * 1e3:.1f} ms "
                      f"| gateway {sg_:6.0f} req/s, median {statistics.median(gl) * 1e3:.1f} "
                      f"ms | throughput ratio {sg_ / sd_:.3f}")
            sd, sg = await sequential(direct, gate, up, auth,
                                      max(3.0, 30 * latency) if latency else 3.0)
            print(f"  1 client, sequential: upstream median {sd * 1e3:.3f} ms, gateway "
                  f"median {sg * 1e3:.3f} ms -> added median {(sg - sd) * 1e3:.3f} ms")
            fd, fp = await sequential(direct, floor, up, up, 3.0)
            print(f"  1 client, sequential, the pass-through floor: added median "
                  f"{(fp - fd) * 1e3:.3f} ms")
            print(f"  gateway's own time outside the stack (X-InsightForge-Overhead-Ms), "
                  f"median of {len(Raw.overheads)} answers: "
                  f"{statistics.median(Raw.overheads):.3f} ms")

        asyncio.run(measure())
    finally:
        gw.terminate()
        gw.wait(timeout=60)
        proxy.terminate()
        proxy.wait(timeout=60)
        emu.terminate()
        emu.wait(timeout=10)


def streams(args: argparse.Namespace, tmp: Path) -> None:
    """``--streams`` concurrent streaming clients over ``--tenants`` budgeted keys."""
    from insightforge.gateway.keystore import keystore_from, ops
    from middleware.budget import ledger_from
    from middleware.budget.policy import from_units
    from tests.services import free_port

    emu_port, gw_port = free_port(), free_port()
    emu = _emulator(emu_port)
    assert emu.stdout is not None
    emu.stdout.readline()
    config = _config(f"http://127.0.0.1:{emu_port}", tmp)
    store = keystore_from(config["gateway"]["keys"])
    limit = Decimal(args.budget)
    stream_keys = [ops.create(store, f"tenant{i}", budget=(limit, "total"))
                   for i in range(args.tenants)]
    store.close()
    gw = _serve(config, tmp, gw_port, args.workers, "config-streams")
    try:
        began = time.perf_counter()
        res = asyncio.run(stream_load("127.0.0.1", gw_port, [k for k, _ in stream_keys],
                                      args.streams))
        print(f"{args.streams} concurrent streams over {args.tenants} keys in "
              f"{time.perf_counter() - began:.1f} s: {res['ok']} whole, {res['refused']}"
              f" refused by budgets, {len(res['bad'])} lost/mixed/duplicated "
              f"{dict(res['statuses'])}")
    finally:
        gw.terminate()
        gw.wait(timeout=60)
        emu.terminate()
        emu.wait(timeout=10)
    ledger = ledger_from(config["gateway"]["store"])
    costs = audit_costs(tmp / "audit.jsonl")
    exact = True
    for _, record in stream_keys:
        rows = [e for e in ledger.entries() if e.key.startswith(f"key_id={record.id}|")]
        spent = sum((from_units(e.spent) for e in rows), Decimal(0))
        reserved = sum(e.reserved for e in rows)
        exact &= spent == costs.get(record.id, Decimal(0)) and reserved == 0 and (
            spent <= limit)
    print(f"per-key budgets exact (ledger spend == audit-log costs, <= limit, nothing "
          f"reserved): {exact}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--upstream-latency", type=float, nargs="+", default=[0.0],
                        metavar="S", help="seconds the emulator waits before each answer; "
                        "several values: one side-by-side run each (e.g. 0 0.5)")
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    parser.add_argument("--sdk-client", action="store_true",
                        help="also measure with the openai SDK as the client")
    parser.add_argument("--budget", default="0.0015", help="each stream key's budget, USD")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; gateway: {args.workers} "
          "worker(s), audit + per-key SQLite budget + cache miss + retry")
    scan, attach = trace_check_cost()
    print(f"trace-context check, no SDK: {scan:.2f} µs per request without a traceparent "
          f"(header scan), {attach:.1f} µs with one (remote_parent)")
    for latency in args.upstream_latency:
        tmp = Path(tempfile.mkdtemp(prefix="insightforge-bench-"))
        mode(latency, args, tmp)
    if args.streams:
        streams(args, Path(tempfile.mkdtemp(prefix="insightforge-bench-")))


if __name__ == "__main__":
    main()
