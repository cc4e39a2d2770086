"""Runs a Python target in an interpreter of its own (`--python PATH`): started by demarcate as
`PATH python_worker.py module:function`, it imports the function there — with that environment's
packages, whatever their versions — and answers one JSON line per request on its standard output.
Standard library only: the interpreter it runs in need not have demarcate installed."""

import asyncio
import importlib
import inspect
import json
import os
import sys


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")  # the app's own prints go to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, os.getcwd())
    module_name, _, attr = sys.argv[1].partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:
        protocol.write(json.dumps({"load_error": f"{type(exc).__name__}: {exc}"}) + "\n")
        protocol.flush()
        return
    protocol.write(json.dumps({"ready": sys.version.split()[0]}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            out = fn(request["message"], request["documents"])
            if inspect.iscoroutine(out):
                out = asyncio.run(out)
            answer = json.dumps({"out": out})
        except Exception as exc:
            answer = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        protocol.write(answer + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
