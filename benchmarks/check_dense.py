"""Benchmark `demarcate check` on the shapes that broke it: dense graphs and long chains.

The portfolio benchmark measures many small, sparse applications, where the number of attack paths
grows with the number of components. These two shapes do not:

- **dense**: N components of eleven kinds in turn (user input, untrusted and personal data sources,
  models, retrievers, tools that send out, write or read private records, renderers that load
  images, persistent memory, open egress), each with `--fanout` flows (8 by default) to components
  picked at random (seeded). Every model sees every other model's content a few hops on: the
  number of simple paths is astronomical, and the number of ancestors × descendants of every model
  is N².
- **chain**: N components in one line, the same kinds in turn, each flowing into the next: every
  model has everything before it upstream and everything after it downstream.

Each run is the real command as a user runs it, `demarcate check FILE --format json`, with its wall
time, peak resident memory and the size of what it printed, and the paths, findings and whether
the analysis said it was bounded (`summary.paths_bounded`). The best of --repeat runs is kept.

    python benchmarks/check_dense.py                             # dense 150, 1,200, 2,400; chain 10,000
    python benchmarks/check_dense.py --dense 1200 --chain        # a subset (no chain sizes: none)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from demarcate.model.yamlio import dump_yaml

DENSE = (150, 1_200, 2_400)
CHAIN = (10_000,)

# One of each, in turn: every kind the analysis treats as a source, a model, context or an impact.
KINDS: tuple[dict, ...] = (
    {"kind": "user-input", "authenticated": True},
    {"kind": "data-source", "trust": "untrusted", "writable-by": ["anyone"], "content": "reviews"},
    {"kind": "data-source", "trust": "internal", "sensitivity": "personal", "content": "records"},
    {"kind": "model"},
    {"kind": "retriever"},
    {"kind": "tool", "effects": ["send-external"], "output-trust": "untrusted"},
    {"kind": "tool", "effects": ["write"]},
    {"kind": "tool", "effects": ["read-private"]},
    {"kind": "output-renderer", "images": True},
    {"kind": "memory", "persistent": True},
    {"kind": "network-egress", "policy": "open"},
)


def _manifest(name: str, n: int, flows: list[tuple[int, int]]) -> dict:
    components = [{"id": f"c{i}", "owner": "app", **KINDS[i % len(KINDS)]} for i in range(n)]
    for c in components:  # a model belongs to its vendor
        if c["kind"] == "model":
            c["owner"] = "vendor"
    return {"version": 1, "system": {"name": name, "preset": "managed-model-api"},
            "parties": [{"id": "app", "role": "application-developer"},
                        {"id": "vendor", "role": "model-provider"}],
            "components": components,
            "flows": [{"from": f"c{a}", "to": f"c{b}"} for a, b in flows]}


def dense(n: int, fanout: int = 8, seed: int = 7) -> dict:
    """n components, each with `fanout` flows to others picked at random."""
    rng = random.Random(seed)
    flows = [(i, t) for i in range(n) for t in rng.sample([j for j in range(n) if j != i], min(fanout, n - 1))]
    return _manifest(f"dense-{n}", n, flows)


def chain(n: int) -> dict:
    """n components in one line."""
    return _manifest(f"chain-{n}", n, [(i, i + 1) for i in range(n - 1)])


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(path: Path, repeat: int) -> dict:
    """The best wall time of `check --format json` on a file, its peak RSS and what it printed."""
    cmd = [sys.executable, "-m", "demarcate", "check", str(path), "--format", "json"]
    best, peak, out = float("inf"), 0.0, b""
    for _ in range(repeat):
        with tempfile.TemporaryFile() as sink:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.DEVNULL, env=ENV)
            _, status, usage = os.wait4(proc.pid, 0)
            best = min(best, time.perf_counter() - start)
            peak = max(peak, usage.ru_maxrss / 1024)
            if os.waitstatus_to_exitcode(status) not in (0, 1):
                raise SystemExit(f"{' '.join(cmd)} failed with {os.waitstatus_to_exitcode(status)}")
            sink.seek(0)
            out = sink.read()
    result = json.loads(out)
    return {"wall": best, "peak_mib": peak, "json_mib": len(out) / 2**20, "paths": len(result["paths"]),
            "findings": len(result["findings"]), "bounded": result["summary"]["paths_bounded"]}


def write(shape: str, n: int, fanout: int, path: Path) -> int:
    """Write one manifest; the number of its flows."""
    doc = dense(n, fanout) if shape == "dense" else chain(n)
    path.write_text(dump_yaml(doc), encoding="utf-8")
    return len(doc["flows"])


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        shape, n, fanout, path = sys.argv[2:6]
        print(write(shape, int(n), int(fanout), Path(path)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense", type=int, nargs="*", default=list(DENSE), help="dense sizes")
    parser.add_argument("--chain", type=int, nargs="*", default=list(CHAIN), help="chain sizes")
    parser.add_argument("--fanout", type=int, default=8, help="flows out of each component of a dense graph")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    args = parser.parse_args()
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{platform.system()}; cpu count {os.cpu_count()}")
    print("| shape | components | flows | `check --format json` s | peak MiB | JSON MiB | paths | findings | bounded |")
    print("|---|---|---|---|---|---|---|---|---|")
    subprocess.run([sys.executable, "-m", "demarcate", "--version"], env=ENV, check=True, stdout=subprocess.DEVNULL)
    shapes = [("dense", n) for n in args.dense] + [("chain", n) for n in args.chain]
    with tempfile.TemporaryDirectory() as tmp:
        for shape, n in shapes:
            path = Path(tmp) / f"{shape}-{n}.yaml"
            # Written by a process of its own: a child started from a parent that once held the
            # manifest in memory counts the parent's pages in its peak resident memory.
            flows = int(subprocess.run([sys.executable, __file__, "--write", shape, str(n), str(args.fanout), str(path)],
                                       check=True, capture_output=True, text=True, env=ENV).stdout)
            r = run(path, args.repeat)
            print(f"| {shape} | {n:,} | {flows:,} | {r['wall']:.2f} | {r['peak_mib']:.0f} | "
                  f"{r['json_mib']:.1f} | {r['paths']:,} | {r['findings']:,} | {'yes' if r['bounded'] else 'no'} |",
                  flush=True)


if __name__ == "__main__":
    main()
