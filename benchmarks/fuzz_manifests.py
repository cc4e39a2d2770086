"""Fuzz `demarcate validate` and `demarcate check` with malformed manifests; count tracebacks.

Each case is the shop bot example (four files) with one file broken: a value swapped for something
hostile (a number of 5,000 digits, plain, hex, tagged or anchored; a NUL; terminal escape
sequences; bidirectional overrides; a deeply nested flow collection; nested aliases; a Python tag),
bytes that are not UTF-8, characters inserted or deleted where YAML cares, lines duplicated,
dropped or re-indented, or the file cut short. Every case runs through both commands in-process,
as the console script runs them. A case passes when the command ends with one of its documented
exit codes (0, 1 or 2) and nothing it printed holds a traceback; anything else is a failure, and
the run prints the case so it can be replayed.

    python benchmarks/fuzz_manifests.py                     # 10,000 cases, seed 7
    python benchmarks/fuzz_manifests.py --cases 500 --seed 3

The test suite runs a few hundred of the same cases (tests/model/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from demarcate.builtin import example

HOSTILE = (
    "9" * 5_000, "-" + "7" * 4_400, "0x" + "f" * 5_000, "0o" + "7" * 6_000, "!!int " + "9" * 5_000,
    "&big " + "8" * 5_000, "!!float " + "1" * 5_000 + "e999", "1e99999", ".nan", "-.inf",
    '"\\0"', "\"a\\0b\"", "\x00", "\x1b[2J\x1b[H", "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "\x1b]52;c;ZWNobyBwd25lZA==\x07", "\u202egnp.exe", "\ufeff", "\x85", "\u2028",
    "[" * 2_000 + "]" * 2_000, "{a: " * 500 + "1" + "}" * 500, "!!python/object/apply:os.system ['id']",
    "*nowhere", "<<: *x", "? [a, b]\n  : c", "|\n  text", ">-", "'unterminated", '"unterminated',
    "@user", "%YAML 1.1", "---", "...", "~", "", " ", "\t", "- - -", "{}", "[]", "a" * 100_000,
)
YAML_CHARS = "{}[]:,-#&*!|>'\"%@`\t\n ?\\0aZ9é\u202e\x00\x1b"
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def _mutate(text: str, rng: random.Random) -> str | bytes:
    lines = text.splitlines(keepends=True)
    j = rng.randrange(len(lines))
    i = rng.randrange(len(text) + 1)
    op = rng.randrange(9)
    if op == 0:  # a value swapped for something hostile
        line = lines[j]
        if ":" in line:
            key = line.split(":", 1)[0]
            lines[j] = f"{key}: {rng.choice(HOSTILE)}\n"
        else:
            lines[j] = line.rstrip("\n") + " " + rng.choice(HOSTILE) + "\n"
        return "".join(lines)
    if op == 1:  # bytes that are not UTF-8
        raw = text.encode()
        k = rng.randrange(len(raw) + 1)
        return raw[:k] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xfe\xff"]) + raw[k:]
    if op == 2:
        return text[:i] + rng.choice(YAML_CHARS) + text[i:]
    if op == 3:
        return text[:i] + text[i + 1:]
    if op == 4:
        return "".join(lines[:j + 1] + lines[j:])
    if op == 5:
        return "".join(lines[:j] + lines[j + 1:])
    if op == 6:  # re-indented
        lines[j] = " " * rng.randrange(0, 7) + lines[j].lstrip(" ")
        return "".join(lines)
    if op == 7:  # cut short, maybe mid-character
        return text.encode()[:rng.randrange(len(text.encode()) + 1)]
    return LAUGHS + text if rng.random() < 0.5 else text.replace("\n", "\r\n")


def cases(seed: int, count: int) -> Iterator[tuple[int, str, str | bytes]]:
    """(case number, the file broken, its new content), the same for the same seed."""
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(example("shopbot").glob("*.yaml"))}
    rng = random.Random(seed)
    for n in range(count):
        name = rng.choice(sorted(files))
        text = files[name]
        for _ in range(rng.randint(1, 3)):
            broken = _mutate(text, rng)
            if isinstance(broken, bytes):
                text = broken.decode("utf-8", errors="surrogateescape")
                break
            text = broken
        yield n, name, broken if isinstance(broken, bytes) else text


def write(folder: Path, name: str, content: str | bytes) -> None:
    """The shop bot into `folder`, with `name` replaced by `content`."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(example("shopbot"), folder)
    target = folder / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8", errors="surrogateescape")


def run_case(folder: Path) -> list[str]:
    """What went wrong running both commands on `folder`: nothing, when both ended as documented."""
    from typer.testing import CliRunner

    from demarcate import cli as cli_module

    runner = CliRunner()
    wrong = []
    for args in (["validate", str(folder)], ["check", str(folder), "--format", "json"]):
        cli_module.out._real = cli_module.err._real = None
        result = runner.invoke(cli_module.app, args, catch_exceptions=True)
        printed = result.output + (result.stderr if result.stderr_bytes is not None else "")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            wrong.append(f"{args[0]}: {type(result.exception).__name__}: {result.exception}"[:400])
        elif result.exit_code not in (0, 1, 2):
            wrong.append(f"{args[0]}: exit {result.exit_code}")
        elif "Traceback" in printed:
            wrong.append(f"{args[0]}: a traceback in what it printed")
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "m"
        for n, name, content in cases(args.seed, args.cases):
            write(folder, name, content)
            wrong = run_case(folder)
            if wrong:
                failures += 1
                print(f"case {n} ({name}): {'; '.join(wrong)}\n  content: {content!r:.300}", flush=True)
    print(f"{args.cases:,} cases (seed {args.seed}), {failures} failing, {time.perf_counter() - start:.0f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
