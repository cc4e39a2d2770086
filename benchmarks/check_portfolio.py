"""Benchmark `demarcate check` on synthetic portfolios of AI applications.

A portfolio is many shop-bot-like applications owned by a handful of teams: each application
has chat input, a system prompt, a model, two to four data sources (some untrusted), a retriever,
memory in one case out of four, two to five tools with varied effects and credentials, a
renderer, and shares its team's runtime, egress and logging. Teams claim a random but seeded
share of controls, so every rule has work to do.

Each size runs `demarcate check FILE --format json` in a fresh process and records wall time
(load + analysis + JSON) and peak resident memory; the in-process phases are timed too.

    python benchmarks/check_portfolio.py                 # 100 .. 100,000 components
    python benchmarks/check_portfolio.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
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


def run(size: int, folder: Path) -> dict:
    path = folder / f"portfolio-{size}.yaml"
    path.write_text(dump_yaml(portfolio(size)), encoding="utf-8")
    probe = (
        "import gc,json,sys,time\n"
        "t0=time.perf_counter()\n"
        "from demarcate.cli import tune_gc; tune_gc()\n"
        "from demarcate.model import load\n"
        "from demarcate.analysis.check import analyse, result_json\n"
        "t1=time.perf_counter(); s=load([sys.argv[1]]); gc.freeze(); t2=time.perf_counter()\n"
        "r=analyse(s); t3=time.perf_counter(); j=json.dumps(result_json(r)); t4=time.perf_counter()\n"
        "print(json.dumps({'import':t1-t0,'load':t2-t1,'analyse':t3-t2,'json':t4-t3,"
        "'components':len(s.components),'paths':len(r.paths.paths),'findings':len(r.findings),"
        "'bounded':r.paths.bounded}))\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    row = json.loads(proc.stdout)
    row.update(size=size, wall=wall, peak_mib=max(peak, before) / 1024, yaml_kib=path.stat().st_size / 1024)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args()
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{platform.system()}; cpu count {__import__('os').cpu_count()}")
    print("| components | YAML KiB | load s | analyse s | JSON s | total s (process) | peak MiB | paths | findings |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            r = run(size, Path(tmp))
            print(f"| {r['components']:,} | {r['yaml_kib']:,.0f} | {r['load']:.2f} | {r['analyse']:.2f} | "
                  f"{r['json']:.2f} | {r['wall']:.2f} | {r['peak_mib']:.0f} | {r['paths']:,} | {r['findings']:,} |",
                  flush=True)


if __name__ == "__main__":
    main()
