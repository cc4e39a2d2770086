"""Benchmark `demarcate check` on synthetic portfolios of AI applications.

A portfolio is many shop-bot-like applications owned by a handful of teams: each application
has chat input, a system prompt, a model, two to four data sources (some untrusted), a retriever,
memory in one case out of four, two to five tools with varied effects and credentials, a
renderer, and shares its team's runtime, egress and logging. Teams claim a random but seeded
share of controls, so every rule has work to do.

Each size is measured twice over: the in-process phases (import, load, analysis, building and
encoding the JSON result) in a fresh interpreter, and the real command, `demarcate check FILE
--format json` and plain `demarcate check FILE`, as a user runs it, with its peak resident memory,
and `demarcate validate FILE --format json`: the same start-up and load with no analysis, which is
what `check` costs before it checks anything.
The best of --repeat runs is kept. Python runs with its bytecode cache, as from an installed
package (PYTHONDONTWRITEBYTECODE is dropped for the runs, and one warm-up run writes the cache).

With --instructions, the JSON command also runs once under valgrind's callgrind (sizes up to
10,000) and the count of machine instructions it executed is reported: unlike wall time on a
shared machine, that count is the same from run to run, so it shows small changes reliably.

    python benchmarks/check_portfolio.py                 # 100 .. 100,000 components
    python benchmarks/check_portfolio.py --sizes 1000 10000 --instructions
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from demarcate.model.yamlio import dump_yaml

SIZES = (100, 1_000, 10_000, 100_000)
APP_CONTROLS = ["APP-IN-02", "APP-IN-03", "APP-PRM-02", "APP-TOOL-01", "APP-TOOL-02", "APP-OUT-02",
                "APP-OUT-04", "APP-LOG-01", "APP-RAG-02", "APP-TOOL-05", "APP-ID-01"]
INFRA_CONTROLS = ["INF-NET-02", "INF-NET-03", "INF-IAM-01", "INF-LOG-01", "INF-RATE-01", "INF-VUL-01"]


def portfolio(components: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    teams = max(1, components // 150)
    infra_teams = max(1, teams // 4)
    parties = [{"id": "vendor", "role": "model-provider", "name": "Model vendor"}]
    parties += [{"id": f"app{t}", "role": "application-developer", "security-review": rng.random() < 0.5,
                 "ai-security-training": rng.random() < 0.5} for t in range(teams)]
    parties += [{"id": f"infra{t}", "role": "infrastructure-operator", "ai-security-training": rng.random() < 0.5}
                for t in range(infra_teams)]
    comps: list[dict] = []
    flows: list[dict] = []
    claims: list[dict] = [{"control": "MOD-SAFE-03", "party": "vendor", "provides": "partial"}]
    for t in range(infra_teams):
        comps += [
            {"id": f"rt{t}", "kind": "runtime", "owner": f"infra{t}", "hardened": True},
            {"id": f"eg{t}", "kind": "network-egress", "owner": f"infra{t}",
             "policy": rng.choice(["open", "allowlist"]), "allow": ["api.example"]},
            {"id": f"log{t}", "kind": "logging", "owner": f"infra{t}", "captures": ["requests"],
             "readable-by": [f"infra{t}"]},
        ]
        claims += [{"control": c, "party": f"infra{t}", "provides": "implemented", "scope": [f"eg{t}"]}
                   for c in rng.sample(INFRA_CONTROLS, 2) if c == "INF-NET-03"]
    a = 0
    while len(comps) < components:
        team = f"app{a % teams}"
        infra = a % infra_teams
        p = f"a{a}-"
        sources = [{"id": p + f"src{i}", "kind": "data-source", "owner": team,
                    "trust": rng.choice(["trusted", "internal", "untrusted"]),
                    "sensitivity": rng.choice(["public", "internal", "personal"]),
                    "writable-by": [rng.choice(["staff", "customers", "anyone"])]}
                   for i in range(rng.randint(2, 4))]
        tools = [{"id": p + f"tool{i}", "kind": "tool", "owner": team,
                  "effects": rng.sample(["read-private", "write", "send-external", "execute-code"], rng.randint(1, 2)),
                  "credential": rng.choice(["user-delegated", "service-account", "admin"]),
                  "confirmation": rng.choice(["none", "none", "user"]),
                  "output-trust": rng.choice(["internal", "untrusted"])}
                 for i in range(rng.randint(2, 5))]
        app = [
            {"id": p + "chat", "kind": "user-input", "owner": team, "authenticated": True},
            {"id": p + "prompt", "kind": "system-prompt", "owner": team},
            {"id": p + "model", "kind": "model", "owner": "vendor"},
            {"id": p + "rag", "kind": "retriever", "owner": team},
            {"id": p + "ui", "kind": "output-renderer", "owner": team, "images": rng.random() < 0.5},
            *sources, *tools,
        ]
        if rng.random() < 0.25:
            app.append({"id": p + "mem", "kind": "memory", "owner": team, "persistent": True,
                        "shared-across-users": rng.random() < 0.3})
            flows += [{"from": p + "model", "to": p + "mem"}, {"from": p + "mem", "to": p + "model"}]
        comps += app
        flows += [{"from": p + "chat", "to": p + "model"}, {"from": p + "prompt", "to": p + "model"},
                  {"from": p + "rag", "to": p + "model"}, {"from": p + "model", "to": p + "ui"}]
        flows += [{"from": s["id"], "to": p + "rag"} for s in sources]
        for tool in tools:
            flows += [{"from": p + "model", "to": tool["id"]}, {"from": tool["id"], "to": p + "model"}]
            if {"send-external", "execute-code"} & set(tool["effects"]):
                flows.append({"from": tool["id"], "to": f"eg{infra}"})
        claims += [{"control": c, "party": team, "provides": rng.choice(["implemented", "partial", "planned"]),
                    "scope": [p + "rag"] if c in ("APP-IN-03", "APP-PRM-02") else []}
                   for c in rng.sample(APP_CONTROLS, rng.randint(0, 4))]
        if rng.random() < 0.3:
            claims.append({"control": "APP-IN-03", "party": team, "relies-on": "vendor",
                           "assumption": "the model ignores planted text"})
        a += 1
    # One claim per (control, party, kind): later duplicates would be merge conflicts.
    unique = {}
    for c in claims:
        kind = "provides" if "provides" in c else "relies-on"
        unique.setdefault((c["control"], c["party"], kind), c)
    return {"version": 1, "system": {"name": f"portfolio-{components}", "preset": "managed-model-api"},
            "parties": parties, "components": comps, "flows": flows, "controls": list(unique.values())}


PROBE = """
import gc, json, sys, time
t0 = time.perf_counter()
from demarcate.model import load
from demarcate.analysis.check import analyse, result_json
from demarcate.report.jsonio import json_bytes
t1 = time.perf_counter(); gc.disable(); s = load([sys.argv[1]]); gc.freeze(); t2 = time.perf_counter()  # as the CLI
r = analyse(s); t3 = time.perf_counter(); j = json_bytes(result_json(r)); t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "analyse": t3 - t2, "json": t4 - t3,
                  "components": len(s.components), "paths": len(r.paths.paths), "findings": len(r.findings),
                  "bounded": r.paths.bounded}))
"""


# Runs use the bytecode cache, as an installed package does.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
MAX_INSTRUCTIONS_SIZE = 10_000  # callgrind runs ~50x slower than the real thing


def run(size: int, folder: Path, repeat: int, instructions: bool) -> dict:
    path = folder / f"portfolio-{size}.yaml"
    path.write_text(dump_yaml(portfolio(size)), encoding="utf-8")
    phases = min((json.loads(_run_probe(path)) for _ in range(repeat)), key=lambda r: r["analyse"])
    cli = [sys.executable, "-m", "demarcate", "check", str(path)]
    json_wall, peak = _wall_and_peak([*cli, "--format", "json"], repeat)
    text_wall, _ = _wall_and_peak(cli, repeat)
    # The same file read and validated with no analysis: what `check` costs before it checks anything.
    validate_wall, _ = _wall_and_peak([sys.executable, "-m", "demarcate", "validate", str(path), "--format", "json"],
                                      repeat)
    phases.update(size=size, json_wall=json_wall, text_wall=text_wall, validate_wall=validate_wall, peak_mib=peak,
                  yaml_kib=path.stat().st_size / 1024, instructions=None)
    if instructions and size <= MAX_INSTRUCTIONS_SIZE:
        phases["instructions"] = _instructions([*cli, "--format", "json"])
    return phases


def _run_probe(path: Path) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True,
                          env=ENV).stdout


def _instructions(cmd: list[str]) -> int:
    """Machine instructions a command executes, counted by callgrind (output discarded)."""
    # A fixed hash seed: with Python's random one, dict and set layouts (and so the count) vary a little.
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**ENV, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise SystemExit(f"valgrind did not report a count:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def _wall_and_peak(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time over `repeat` runs of a command (output discarded), and its largest peak RSS in MiB."""
    best, peak = float("inf"), 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        best = min(best, time.perf_counter() - start)
        peak = max(peak, usage.ru_maxrss / 1024)
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed with {os.waitstatus_to_exitcode(status)}")
    return best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement below 100,000 "
                        "components; the best is kept (shared machines are noisy)")
    parser.add_argument("--instructions", action="store_true", help="also count the instructions of the "
                        f"JSON command under valgrind (sizes up to {MAX_INSTRUCTIONS_SIZE:,})")
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{platform.system()}; cpu count {os.cpu_count()}")
    print("| components | YAML KiB | import s | load s | analyse s | JSON s | `check --format json` s | "
          "`check` (text) s | `validate` s | peak MiB | paths | findings | instructions (JSON command) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    subprocess.run([sys.executable, "-m", "demarcate", "--version"], env=ENV, check=True,
                   stdout=subprocess.DEVNULL)  # writes the bytecode cache before anything is timed
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            r = run(size, Path(tmp), args.repeat if size < 100_000 else 1, args.instructions)
            count = f"{r['instructions'] / 1e9:.2f} G" if r["instructions"] else "—"
            print(f"| {r['components']:,} | {r['yaml_kib']:,.0f} | {r['import']:.2f} | {r['load']:.2f} | "
                  f"{r['analyse']:.2f} | {r['json']:.2f} | {r['json_wall']:.2f} | {r['text_wall']:.2f} | "
                  f"{r['validate_wall']:.2f} | {r['peak_mib']:.0f} | {r['paths']:,} | {r['findings']:,} | {count} |", flush=True)


if __name__ == "__main__":
    main()
