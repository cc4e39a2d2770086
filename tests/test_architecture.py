"""The layout tells the architecture: the analysis is pure (it imports neither the history store
nor the reports), and the package's modules import one another without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports, at any depth of its code."""
    graph: dict[str, set[str]] = {}
    for path in sorted((SRC / "demarcate").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found: set[str] = set()
        for node in _run_time(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("demarcate"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("demarcate"))
        graph[name] = found
    return {m: {i for i in imports if i in graph and i != m} for m, imports in graph.items()}


def _run_time(tree: ast.AST):
    """Every node that runs: all but the bodies of `if TYPE_CHECKING:` (imports for the type checker)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                todo.extend(child.orelse)
            else:
                todo.append(child)


def test_the_analysis_imports_neither_the_store_nor_the_reports():
    graph = _imports()
    analysis = [m for m in graph if m.startswith("demarcate.analysis")]
    assert len(analysis) > 20
    wrong = {m: sorted(i for i in graph[m] if i.startswith(("demarcate.store", "demarcate.report", "demarcate.testing",
                                                            "demarcate.cli", "demarcate.lab")))
             for m in analysis}
    assert {m: w for m, w in wrong.items() if w} == {}


def test_no_module_imports_itself_round_a_cycle():
    graph = _imports()
    cycles = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if n.startswith(m + "."):  # a package's __init__ importing its own submodule
                continue
            if state.get(n) == 1:
                cycles.append([*stack[stack.index(n):], n] if n in stack else [m, n])
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []
