"""The layer rules of docs/architecture.md, checked on the source with `ast` alone:
no import cycles among ftplab's modules (imports inside functions count, those
under `if TYPE_CHECKING:` do not: they never run), the loop knows no kind of
connection, what a line means (handlers, the FTP session, the lab session) never
reaches the loop, no class grows past 30 methods (a protocol's command table apart),
and every `Class.method` the architecture page names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "app" / "ftplab"
ARCHITECTURE = REPO / "docs" / "architecture.md"

LOOP = "ftplab.server"
LOOP_MAX_LINES = 300
MAX_METHODS = 30
NEVER_REACH_THE_LOOP = ("ftplab.handlers", "ftplab.session", "ftplab.ftp")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    paths = sorted(PACKAGE.rglob("*.py"))
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in paths}


def runs_as_main(node: ast.AST) -> bool:
    """`if __name__ == "__main__":`: that code runs in the `__main__` module (`python -m`),
    never in the module that others import, so its imports are not the module's."""
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def only_for_type_checkers(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:`: never runs, so its imports (annotations' names) make no cycle."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def walk_importing_code(tree: ast.AST):
    """Every node of the module, inside functions too, but not its `__main__` block
    nor its `if TYPE_CHECKING:` block."""
    for child in ast.iter_child_nodes(tree):
        if runs_as_main(child) or only_for_type_checkers(child):
            continue
        yield child
        yield from walk_importing_code(child)


def imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The ftplab modules `name` imports, wherever in it the import is written."""
    is_package = (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists()
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in walk_importing_code(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    trees = modules()
    known = set(trees)
    return {name: imports(name, tree, known) for name, tree in trees.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "visiting"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "visiting":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def classes() -> dict[str, list[tuple[str, ast.ClassDef]]]:
    found: dict[str, list[tuple[str, ast.ClassDef]]] = {}
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append((name, node))
    return found


def members(node: ast.ClassDef) -> set[str]:
    names = set()
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(item.name)
        elif isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
    return names


def all_members(name: str, known: dict[str, list[tuple[str, ast.ClassDef]]]) -> set[str]:
    """A class's members with those of its ftplab base classes."""
    names = set()
    for _module, node in known.get(name, []):
        names |= members(node)
        for base in node.bases:
            base_name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)
            if base_name in known and base_name != name:
                names |= all_members(base_name, known)
    return names


def connection_kinds(known: dict[str, list[tuple[str, ast.ClassDef]]]) -> set[str]:
    """Connection and every ftplab class derived from it."""
    kinds = {"Connection"}
    grew = True
    while grew:
        grew = False
        for name, defined in known.items():
            for _module, node in defined:
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if name not in kinds and bases & kinds:
                    kinds.add(name)
                    grew = True
    return kinds


# --- the rules --------------------------------------------------------------------------


def test_no_import_cycles_not_even_inside_functions():
    assert find_cycle(import_graph()) is None


def test_handlers_and_sessions_never_reach_the_loop():
    graph = import_graph()
    for name in graph:
        if name.startswith(NEVER_REACH_THE_LOOP):
            assert LOOP not in reachable(graph, name) | {name}, f"{name} reaches {LOOP}"


def test_the_loop_is_short_and_knows_no_kind_of_connection():
    source = (PACKAGE / "server.py").read_text()
    assert len(source.splitlines()) <= LOOP_MAX_LINES
    kinds = connection_kinds(classes())
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
            named = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            named |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
            assert not named & kinds, f"server.py line {node.lineno} asks the kind of a connection"


def test_no_class_has_more_than_30_methods():
    for name, defined in classes().items():
        for module, node in defined:
            methods = [item for item in node.body if isinstance(item, ast.FunctionDef)]
            assert len(methods) <= MAX_METHODS, f"{module}.{name} has {len(methods)} methods"


def test_every_class_method_the_architecture_page_names_exists():
    known = classes()
    named = re.findall(r"`([A-Z]\w*)\.([a-z_]\w*)(?:\([^`]*\))?`", ARCHITECTURE.read_text())
    assert named, "the page names some Class.method"
    missing = [f"{cls}.{member}" for cls, member in named if member not in all_members(cls, known)]
    assert missing == []
