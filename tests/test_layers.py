"""The import graph follows the layer table in ``semcom.layers``: nothing imports upward, no scheme imports another,
and no two modules import each other in a loop. Imports anywhere in a file count (inside functions too), relative
imports resolved."""

from __future__ import annotations

import ast
from pathlib import Path

from semcom.layers import LAYERS, LAZY_UPWARD

SRC = Path(__file__).resolve().parents[1] / "src"


def module_names(root: Path, package: str = "semcom") -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``root / package``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imported_modules(path: Path, module: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in the file, relative ones resolved against ``module``, and every
    ``importlib.import_module("literal")`` (so a dynamic import cannot hide an upward arrow)."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:  # ``from pkg import submodule`` imports the submodule
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if sub in known else base))
    return sorted(set(found))


def unit(module: str) -> tuple[str, ...]:
    """The unit a module belongs to: ('schemes', name) for a scheme, else (top-level package or module,)."""
    parts = module.split(".")[1:]
    if not parts:
        return ("__init__",)
    return tuple(parts[:2]) if parts[0] == "schemes" and len(parts) > 1 else (parts[0],)


def layer_of(top: str) -> int | None:
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    return None


def violations(root: Path = SRC, package: str = "semcom") -> list[str]:
    """Every import that goes upward or from one scheme to another, and every module outside the layer table."""
    modules = module_names(root, package)
    known = set(modules)
    bad = []
    for module, path in modules.items():
        me = unit(module)
        where = path.relative_to(root)
        if layer_of(me[0]) is None:
            bad.append(f"{where}: '{me[0]}' has no layer in semcom/layers.py")
            continue
        for line, target in imported_modules(path, module, known):
            if target != package and not target.startswith(package + "."):
                continue
            them = unit(target)
            if them == me or layer_of(them[0]) is None or (me[0], them[0]) in LAZY_UPWARD:
                continue
            if layer_of(them[0]) > layer_of(me[0]):
                mine, theirs = LAYERS[layer_of(me[0])][0], LAYERS[layer_of(them[0])][0]
                bad.append(f"{where}:{line} imports {target}: {mine} -> {theirs} goes upward")
            elif me[0] == them[0] == "schemes" and len(me) == len(them) == 2:
                bad.append(f"{where}:{line} imports {target}: one scheme imports another")
    return bad


def import_cycles(root: Path = SRC, package: str = "semcom") -> list[list[str]]:
    """Loops in the module import graph (each reported once, as the list of modules around it)."""
    modules = module_names(root, package)
    known = set(modules)
    graph = {m: sorted({t for _, t in imported_modules(p, m, known) if t in known and t != m}) for m, p in modules.items()}
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node)
    return cycles


def test_no_import_goes_upward_or_across_schemes():
    bad = violations()
    assert not bad, "layer violations (see semcom/layers.py):\n" + "\n".join(bad)


def test_no_module_import_loops():
    cycles = import_cycles()
    assert not cycles, "import loops:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checks_catch_upward_cross_scheme_relative_and_unlisted_imports_and_loops(tmp_path):
    def write(relative, text=""):
        path = tmp_path / "semcom" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    for package in ("", "schemes", "schemes/a", "schemes/b", "experiments", "channels", "mystery"):
        write(f"{package}/__init__.py".lstrip("/"))
    write("errors.py", "def f():\n    from semcom.channels import awgn\n")  # base -> core, inside a function
    write("channels/awgn.py", "from ..schemes.a import x\n")  # core -> schemes, relative
    write("schemes/a/x.py", "from semcom.experiments import report\nfrom semcom.schemes.b import y\n"
                            "from semcom.channels import awgn\nfrom . import z\n")
    write("schemes/a/z.py", "from semcom.schemes.a import x\n")  # own package: allowed, but a loop with x
    write("schemes/b/y.py", "import semcom.errors\nimport importlib\nimportlib.import_module('semcom.experiments')\n")
    write("experiments/report.py", "from semcom.schemes.a.x import anything\n")  # downward: allowed
    bad = violations(tmp_path)
    assert any("errors.py:2 imports semcom.channels.awgn: base -> core" in b for b in bad), bad
    assert any("awgn.py:1 imports semcom.schemes.a.x: core -> schemes" in b for b in bad), bad
    assert any("x.py:1 imports semcom.experiments.report: schemes -> experiments" in b for b in bad), bad
    assert any("x.py:2 imports semcom.schemes.b.y: one scheme imports another" in b for b in bad), bad
    assert any("'mystery' has no layer" in b for b in bad), bad
    assert any("y.py:3 imports semcom.experiments: schemes -> experiments" in b for b in bad), bad  # dynamic
    assert len(bad) == 6, bad
    cycles = import_cycles(tmp_path)
    assert ["semcom.schemes.a.x", "semcom.schemes.a.z", "semcom.schemes.a.x"] in cycles
    assert ["semcom.channels.awgn", "semcom.schemes.a.x", "semcom.channels.awgn"] in cycles
