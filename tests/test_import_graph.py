"""The library's import graph has no cycles (a static check, no imports run).

Nodes are the sub-packages of ``jaxar`` (``jaxar.deploy``, ``jaxar.modules``,
``jaxar.models``, ``jaxar.ops``, ``jaxar.runtime``, ``jaxar.train``) and its
top-level modules; an edge is an import written in a module's source, at
module level or inside a function (a lazy import hides a cycle, it does not
remove it). ``jaxar.runtime`` additionally imports nothing from the rest of
``jaxar`` (it is copied into export directories with numpy + OpenCV only).
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "jaxar"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _node(module: str) -> str:
    """``jaxar.deploy.ops`` -> ``jaxar.deploy``; ``jaxar.macs`` -> ``jaxar.macs``."""
    return ".".join(module.split(".")[:2])


def _imports(path: Path) -> set[str]:
    """Every ``jaxar...`` module that ``path`` imports (``from jaxar import x``
    counts as ``jaxar.x`` when ``x`` is a module or package)."""
    tree = ast.parse(path.read_text(), str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names if a.name.split(".")[0] == "jaxar"}
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                anchor = package.split(".")[:len(package.split(".")) - (n.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "jaxar":
                continue
            for a in n.names:
                sub = f"{base}.{a.name}"
                rel = Path(*sub.split("."))
                is_module = (ROOT / rel).is_dir() or (ROOT / rel).with_suffix(".py").is_file()
                out.add(sub if is_module else base)
    return out


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        src = _node(_module_name(path))
        for target in _imports(path):
            dst = _node(target)
            if dst != src and dst != "jaxar":
                graph.setdefault(src, set()).add(dst)
        graph.setdefault(src, set())
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a node list (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_the_known_edges():
    graph = package_graph()
    assert "jaxar.deploy" in graph["jaxar.modules"] and "jaxar.modules" in graph["jaxar.models"]
    assert "jaxar.models" in graph["jaxar.variants"] and "jaxar.registry" in graph["jaxar.model_record"]


def test_no_package_level_import_cycle():
    cycle = find_cycle(package_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_runtime_stays_at_the_bottom():
    assert package_graph()["jaxar.runtime"] == set()
