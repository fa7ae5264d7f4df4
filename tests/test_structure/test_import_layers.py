"""The import graph of ``projects/``: every arrow points down a floor, and
there is no cycle. Parsed from the source (``ast``), nothing imported.

Floors, bottom first (``projects/__init__.py`` imports every registering
package and stands outside them):

0. ``layers``: shared model layers and the heads' declarations;
1. the methods: every other package (``sais``, ``yolact``, ``solo``,
   ``condinst``, ``blendmask``, ``yolo_mask``; a new one needs no entry
   here), each importing ``layers`` and OpenMMLab only, never another
   method;
2. ``evaluation``, ``engine``;
3. ``apis``;
4. ``visualization``;
5. ``deploy``, then ``benchmark`` (which may import ``deploy``).
"""
import ast
import os.path as osp
import pathlib
from collections import defaultdict
from typing import Dict, List, Set, Tuple

import pytest

ROOT = pathlib.Path(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
METHOD_FLOOR = 1
FLOOR = dict(layers=0, evaluation=2, engine=2, apis=3, visualization=4,
             deploy=5, benchmark=6)


def module_name(path: pathlib.Path, root: pathlib.Path) -> str:
    parts = list(path.relative_to(root).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def import_graph(root: pathlib.Path) -> Dict[str, Set[str]]:
    """Module -> the ``projects`` modules it imports (``from pkg import
    name`` counts as importing ``pkg.name`` when that is a module)."""
    files = {module_name(p, root): p for p in (root / 'projects').rglob('*.py')}
    graph: Dict[str, Set[str]] = defaultdict(set)
    for mod, path in files.items():
        package = mod if path.name == '__init__.py' else mod.rpartition('.')[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    parts = package.split('.')
                    parts = parts[:len(parts) - node.level + 1]
                    base = '.'.join(parts + ([base] if base else []))
                targets = [base]
                targets += [f'{base}.{a.name}' for a in node.names
                            if f'{base}.{a.name}' in files]
            else:
                continue
            graph[mod].update(t for t in targets
                              if t in files and t != mod)
    return graph


def package_of(mod: str) -> str:
    parts = mod.split('.')
    return parts[1] if len(parts) > 1 else ''


def floor(package: str) -> int:
    return FLOOR.get(package, METHOD_FLOOR)


def upward_arrows(graph: Dict[str, Set[str]]) -> List[str]:
    """Arrows that do not point to a lower floor: between two methods,
    from a shared layer up, from the engine into the tools' API, ..."""
    bad = []
    for mod, targets in sorted(graph.items()):
        src = package_of(mod)
        if not src:
            continue  # projects/__init__.py: the registration entry point
        for target in sorted(targets):
            dst = package_of(target)
            if dst == src:
                continue
            if not dst:
                bad.append(f'{mod} -> {target} (the whole zoo)')
            elif floor(dst) >= floor(src):
                bad.append(f'{mod} -> {target} (floor {floor(src)} -> '
                           f'{floor(dst)})')
    return bad


def cycles(graph: Dict[str, Set[str]]) -> List[Tuple[str, ...]]:
    """Module-level import cycles, one per strongly connected set."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[Tuple[str, ...]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                found.append(tuple(sorted(scc)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_imports_point_down():
    graph = import_graph(ROOT)
    assert len(graph) > 50  # parsed the real tree
    assert upward_arrows(graph) == []


def test_no_import_cycle():
    assert cycles(import_graph(ROOT)) == []


def test_checker_sees_an_upward_arrow_and_a_cycle(tmp_path):
    """The two checks on a small tree that breaks both rules: a shared
    layer that imports a method, and two modules of a method that import
    each other."""
    def write(rel: str, text: str = '') -> None:
        path = tmp_path / 'projects' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    write('__init__.py', 'from . import layers, sais, yolact\n')
    write('layers/__init__.py', 'from projects.sais import SAISHead\n')
    write('yolact/__init__.py', 'from projects.sais.head import SAISHead\n')
    write('sais/__init__.py', 'from .head import SAISHead\n')
    write('sais/head.py', 'from .loss import loss\nSAISHead = 1\n')
    write('sais/loss.py', 'from projects.sais.head import SAISHead\n'
          'loss = 2\n')
    graph = import_graph(tmp_path)
    assert upward_arrows(graph) == [
        'projects.layers -> projects.sais (floor 0 -> 1)',
        'projects.yolact -> projects.sais.head (floor 1 -> 1)']
    assert cycles(graph) == [('projects.sais.head', 'projects.sais.loss')]


@pytest.mark.parametrize('package', sorted(FLOOR))
def test_every_floor_exists(package):
    assert (ROOT / 'projects' / package / '__init__.py').is_file()
