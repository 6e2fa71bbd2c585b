"""The packages stack in the direction data flows: data_access -> protoecg -> analysis -> app, CLI on top.

Every module is parsed (not imported), and every import counts, including the lazy ones inside functions,
so a command that would only fail at run time still fails here.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data_access", "protoecg", "analysis", "app", "protoecg_cli")
# what each package must never import (directly or lazily)
FORBIDDEN = {
    "data_access": {"protoecg", "analysis", "app", "protoecg_cli"},
    "protoecg": {"analysis", "app", "protoecg_cli"},
    "analysis": {"app", "protoecg_cli"},
    "app": {"protoecg_cli"},
    "protoecg_cli": set(),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path) -> list[tuple[str, int]]:
    """Absolute names of every module ``path`` imports, with line numbers (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((mod, node.lineno))
            # `from pkg import sub` imports the module pkg.sub when there is one
            found += [(f"{mod}.{a.name}", node.lineno) for a in node.names]
    return found


def test_every_package_is_parsed():
    mods = _modules()
    for pkg in PACKAGES:
        assert pkg in mods, f"{pkg}/__init__.py not found"
    assert len(mods) > 100


@pytest.mark.parametrize("pkg", PACKAGES)
def test_imports_follow_the_data_flow(pkg):
    bad = []
    for name, path in _modules().items():
        if name.split(".")[0] != pkg:
            continue
        for mod, line in imports_of(name, path):
            top = mod.split(".")[0]
            if top in FORBIDDEN[pkg]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    assert not bad, f"{pkg} imports against the data flow:\n" + "\n".join(sorted(set(bad)))


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        # an import of a package's own __init__ (re-exports) is not a dependency between two modules
        graph[name] = {m for m, _ in imports_of(name, path) if m in mods and m != name
                       and not name.startswith(m + ".")}
    return graph


def test_no_import_circles_between_modules():
    """No module imports (even lazily) a module that imports it back, however long the way round."""
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_parser_sees_lazy_and_relative_imports(tmp_path):
    """The checker itself: a lazy relative import inside a function is found and resolved."""
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from ..model import network\n    import analysis.fdr\n")
    found = {m for m, _ in imports_of("protoecg.explain.mod", src)}
    assert {"protoecg.model", "protoecg.model.network", "analysis.fdr"} <= found


def test_loading_a_model_does_not_go_through_training():
    """The model, its configuration, projection and the bundle stand without the training package."""
    mods = _modules()
    bad = []
    for name, path in mods.items():
        if name.startswith(("protoecg.model", "protoecg.explain", "protoecg.render", "protoecg.reports")) \
                or name in ("protoecg.projection", "protoecg.bundle", "protoecg.config", "protoecg.decision"):
            bad += [f"{name}:{line} imports {m}" for m, line in imports_of(name, path)
                    if m.startswith("protoecg.training")]
    assert not bad, "\n".join(bad)


def test_public_apis_are_curated_and_cheap_to_import():
    """``__all__`` of each library package resolves, and importing the packages loads no torch/pandas."""
    import subprocess
    import sys

    code = ("import sys; import protoecg, data_access, analysis; "
            "heavy = [m for m in ('torch', 'pandas', 'streamlit') if m in sys.modules]; "
            "assert not heavy, heavy; "
            "[getattr(p, n) for p in (protoecg, data_access, analysis) for n in p.__all__]; "
            "print(len(protoecg.__all__), len(data_access.__all__), len(analysis.__all__))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert all(int(n) >= 10 for n in out.stdout.split())
    import protoecg

    with pytest.raises(AttributeError):
        protoecg.no_such_name  # noqa: B018
