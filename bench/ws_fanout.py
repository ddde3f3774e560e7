"""WebSocket fan-out benchmark (issue 5): commit → client latency with many subscribers, and the
server memory each idle connection costs.

A real `titan serve` (SQLite, memory bus) runs in its own process; a Node.js program using the
`ws` package holds the WebSocket clients (so the load generator does not starve the server), and
this script writes Property values through REST at a fixed rate. Latency is measured from the
event's `time` (stamped inside the writing transaction, just before commit) to its arrival at the
client: an upper bound of commit → client. CPU of server, clients and writer is reported.

    .venv/bin/python bench/ws_fanout.py                      # all three scenarios
    .venv/bin/python bench/ws_fanout.py --scenarios a --duration 5
    .venv/bin/python bench/ws_fanout.py --scenarios idle --idle 10000

Scenarios: a = 100 subscribers × 100 events/s; b = 1,000 subscribers × 30 events/s (each event to
all); idle = N connections, each subscribed, no events (server RSS growth / N).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import cpu_description, machine_busy_seconds, process_cpu_seconds, process_rss_mb
from titan_instance import TitanInstance, encode_id

RESULTS = Path(__file__).resolve().parent / "results"
NODE_DIR = Path(os.environ.get("TITAN_BENCH_NODE_DIR", Path.home() / ".cache" / "titan-bench" / "ws-node"))
SUBMODEL_ID = "https://example.com/ids/sm/bench-fanout"
PROPERTIES = 20

# The Node.js client: N connections, each subscribed to every valueChanged; per message it takes the
# event's `time` out of the text (no full JSON parse) and records arrival − time in ms.
CLIENT_JS = r"""
const WebSocket = require("ws");
const [url, countArg, warmupArg, modeArg] = process.argv.slice(2);
const count = Number(countArg), warmupMs = Number(warmupArg) * 1000, idle = modeArg === "idle";
const latencies = [];
const perClient = new Array(count).fill(0);
let firstEventAt = null, subscribed = 0, closedEarly = 0;
const now = () => performance.timeOrigin + performance.now();

function eventMs(text) {
  const at = text.indexOf('"time":"');
  if (at < 0) return null;
  const stamp = text.slice(at + 8, at + 8 + 27);  // 2026-11-27T05:25:48.123456Z
  return Date.parse(stamp.slice(0, 23) + "Z") + Number(stamp.slice(23, 26)) / 1000;
}

function open(index) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("error", reject);
    ws.on("close", (code) => { if (code !== 1000 && code !== 1005) closedEarly += 1; });
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"welcome"')) {
        const filter = idle ? { ids: ["urn:nothing"] } : { types: ["valueChanged"] };
        ws.send(JSON.stringify({ type: "subscribe", id: "s", filter }));
      } else if (text.startsWith('{"type":"subscribed"')) {
        subscribed += 1;
        resolve(ws);
      } else if (text.startsWith('{"type":"event"')) {
        const arrived = now();
        if (firstEventAt === null) firstEventAt = arrived;
        perClient[index] += 1;
        if (arrived - firstEventAt >= warmupMs) latencies.push(arrived - eventMs(text));
      }
    });
  });
}

async function main() {
  const sockets = [];
  for (let start = 0; start < count; start += 200) {
    const batch = [];
    for (let index = start; index < Math.min(count, start + 200); index++) batch.push(open(index));
    sockets.push(...(await Promise.all(batch)));
  }
  const cpuAtReady = process.cpuUsage();
  console.log(JSON.stringify({ ready: subscribed }));
  process.stdin.resume();
  process.stdin.on("end", () => {
    const cpu = process.cpuUsage(cpuAtReady);
    latencies.sort((a, b) => a - b);
    const last = latencies.length - 1;
    const pick = (q) => (latencies.length ? latencies[Math.min(last, Math.floor(q * latencies.length))] : null);
    console.log(JSON.stringify({
      received: perClient.reduce((a, b) => a + b, 0), measured: latencies.length,
      min_per_client: Math.min(...perClient), max_per_client: Math.max(...perClient),
      p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: latencies.length ? latencies[latencies.length - 1] : null,
      cpu_seconds: (cpu.user + cpu.system) / 1e6, closed_early: closedEarly,
    }));
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  });
}
main().catch((error) => { console.error(error); process.exit(1); });
"""


def ensure_node_client() -> Path:
    """The client script beside an npm-installed `ws` (installed once into NODE_DIR)."""
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        (NODE_DIR / "package.json").write_text('{"name":"titan-ws-bench","private":true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", "ws@8"], cwd=NODE_DIR, check=True
        )
    script = NODE_DIR / "client.js"
    script.write_text(CLIENT_JS)
    return script


@dataclass
class Outcome:
    scenario: str
    subscribers: int
    rate: float
    seconds: float
    writes: int
    deliveries_expected: int
    deliveries: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    server_cpu_share: float
    clients_cpu_share: float
    writer_cpu_share: float
    machine_cpu_share: float
    target_p99_ms: float | None
    note: str = ""


async def create_submodel(base_url: str) -> None:
    submodel = {
        "modelType": "Submodel",
        "id": SUBMODEL_ID,
        "idShort": "Fanout",
        "submodelElements": [
            {"modelType": "Property", "idShort": f"P{index}", "valueType": "xs:int", "value": "0"}
            for index in range(PROPERTIES)
        ],
    }
    async with aiohttp.ClientSession() as http, http.post(f"{base_url}/submodels", json=submodel) as response:
        assert response.status == 201, await response.text()


async def write_values(base_url: str, rate: float, seconds: float) -> int:
    """PATCH `$value` of the Properties in turn at `rate` per second (open loop, 4 writers)."""
    base = f"{base_url}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements"
    total = int(rate * seconds)
    started = time.monotonic()
    written = 0

    async def writer(http: aiohttp.ClientSession, lane: int) -> None:
        nonlocal written
        for number in range(lane, total, 4):
            delay = started + number / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            # A new value every time: a write that changes nothing emits no event.
            async with http.patch(f"{base}/P{number % PROPERTIES}/$value", json=number + 1) as response:
                if response.status == 204:
                    written += 1

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(writer(http, lane) for lane in range(4)))
    return written


def start_clients(script: Path, ws_url: str, count: int, warmup: float, mode: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        ["node", str(script), ws_url, str(count), str(warmup), mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(
            f"the Node.js client exited with {process.wait()} before its connections were ready"
        )
    ready = json.loads(line)["ready"]
    if ready != count:
        raise RuntimeError(f"only {ready} of {count} clients subscribed")
    return process


def finish_clients(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    summary: dict[str, Any] = json.loads(process.stdout.readline())
    process.wait(timeout=30)
    return summary


def fanout(name: str, script: Path, subscribers: int, rate: float, seconds: float, warmup: float,
           target: float) -> Outcome:  # fmt: skip
    with TitanInstance(log_name=f"titan-ws-{name}") as titan:
        server = titan.start()
        asyncio.run(create_submodel(titan.base_url))
        ws_url = titan.base_url.replace("http", "ws") + "/ws/events"
        clients = start_clients(script, ws_url, subscribers, warmup, "events")
        cpu_before = (
            server.cpu_seconds(),
            process_cpu_seconds(clients.pid),
            _own_cpu(),
            machine_busy_seconds(),
        )
        started = time.monotonic()
        writes = asyncio.run(write_values(titan.base_url, rate, warmup + seconds))
        time.sleep(0.5)  # the last events on their way
        elapsed = time.monotonic() - started
        cpu_after = (
            server.cpu_seconds(),
            process_cpu_seconds(clients.pid),
            _own_cpu(),
            machine_busy_seconds(),
        )
        summary = finish_clients(clients)
    shares = [(after - before) / elapsed for before, after in zip(cpu_before, cpu_after, strict=True)]
    return Outcome(
        scenario=name, subscribers=subscribers, rate=rate, seconds=round(elapsed, 2), writes=writes,
        deliveries_expected=writes * subscribers, deliveries=summary["received"],
        p50_ms=_round(summary["p50"]), p90_ms=_round(summary["p90"]), p99_ms=_round(summary["p99"]),
        max_ms=_round(summary["max"]), server_cpu_share=round(shares[0], 2), clients_cpu_share=round(shares[1], 2),
        writer_cpu_share=round(shares[2], 2), machine_cpu_share=round(shares[3], 2), target_p99_ms=target,
        note=f"per client {summary['min_per_client']}-{summary['max_per_client']} events; "
        f"{summary['closed_early']} closed early",
    )  # fmt: skip


def idle_memory(script: Path, connections: int) -> dict[str, Any]:
    with TitanInstance(log_name="titan-ws-idle") as titan:
        server = titan.start()
        asyncio.run(create_submodel(titan.base_url))
        ws_url = titan.base_url.replace("http", "ws") + "/ws/events"
        # Warm up: the first connections load code and grow pools that every later one shares.
        finish_clients(start_clients(script, ws_url, 50, 0, "idle"))
        time.sleep(1)
        before = process_rss_mb(server.pid)
        clients = start_clients(script, ws_url, connections, 0, "idle")
        time.sleep(2)
        after = process_rss_mb(server.pid)
        finish_clients(clients)
    per_connection_kib = (after - before) * 1024 / connections
    return {"scenario": "idle", "connections": connections, "rss_before_mib": round(before, 1),
            "rss_after_mib": round(after, 1), "per_connection_kib": round(per_connection_kib, 1),
            "target_kib": 25}  # fmt: skip


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenarios", default="a,b,idle", help="comma-separated: a, b, idle")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of writes before measuring")
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections to open")
    args = parser.parse_args()
    os.environ.setdefault("TITAN_LOG_LEVEL", "WARNING")
    os.environ.setdefault("TITAN_DISABLE_PLUGINS", "mqtt,webhook")
    script = ensure_node_client()
    results: list[dict[str, Any]] = []
    chosen = [name.strip() for name in args.scenarios.split(",")]
    if "a" in chosen:
        results.append(asdict(fanout("a", script, 100, 100, args.duration, args.warmup, target=15)))
    if "b" in chosen:
        results.append(asdict(fanout("b", script, 1000, 30, args.duration, args.warmup, target=100)))
    if "idle" in chosen:
        results.append(idle_memory(script, args.idle))
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    report = {"machine": cpu_description(), "results": results}
    (RESULTS / f"ws-fanout-{stamp}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
