"""The import boundaries (CONTRIBUTING.md, "Where things live"), each checked in a fresh interpreter."""

import ast
import itertools
from pathlib import Path

import pytest

from tests.support import run_python

ROOT = Path(__file__).resolve().parents[1]


def test_libraries_never_import_django_or_celery():
    out = run_python(
        "import colorization, colorization.cli, colorization.pipeline, colorization.stages, training\n"
        "import training.cli, training.train\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery', 'portal', 'workers')))"
    )
    assert out == "[]"


def test_colorization_never_imports_training():
    out = run_python(
        "import colorization, colorization.cli, colorization.stages\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'training'))"
    )
    assert out == "[]"


def test_media_package_is_torch_free():
    out = run_python(
        "import colorization.media, colorization.media.previews\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'training', 'django')))"
    )
    assert out == "[]"


def test_web_process_never_imports_torch_and_uses_only_the_media_package_and_hints():
    pytest.importorskip("django")
    allowed = set(
        run_python(
            "import colorization.media, colorization.hints\n"
            "print(' '.join(m for m in sys.modules if m.startswith('colorization')))"
        ).split()
    )
    assert {"colorization.media.policy", "colorization.hints"} <= allowed
    out = run_python(
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'portal.settings')\n"
        "import django; django.setup()\n"
        "import portal.urls, portal.wsgi, portal.celery, workers.tasks\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'training', 'torchvision', 'cv2')))\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('colorization'))))"
    )
    heavy, colorization_modules = (out.splitlines() + [""])[:2]
    assert heavy == "[]"
    assert "colorization.media" in colorization_modules.split()  # the upload check uses the policy
    assert "colorization.hints" in colorization_modules.split()  # the hint check uses the library's parse
    assert set(colorization_modules.split()) <= allowed  # and nothing else of the library


LIBRARIES = ("colorization", "training")


def _import_graph():
    """Every import statement of the project's packages, parsed from the source (nothing is imported), those
    inside functions included; imports only for type checkers are left out."""
    import grimp

    return grimp.build_graph(
        "colorization", "training", "portal", "workers", cache_dir=None, exclude_type_checking_imports=True
    )


def test_library_modules_import_each_other_in_one_direction():
    graph = _import_graph()
    cycles = set()
    for module in sorted(m for m in graph.modules if m.split(".")[0] in LIBRARIES):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.split(".")[0] in LIBRARIES and graph.chain_exists(importer=imported, imported=module):
                cycles.add(
                    " -> ".join((module, *graph.find_shortest_chain(importer=imported, imported=module)))
                )
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


def test_portal_never_imports_workers():
    """The portal sends tasks by name (portal/broker.py): no module of it imports `workers`, not even inside a
    function, so the web process never loads the worker's code and the two packages form no circle."""
    graph = _import_graph()
    found = sorted(
        f"{i['importer']} -> {i['imported']}"
        for i in graph.find_matching_direct_imports(import_expression="portal.** -> workers.**")
    )
    assert found == [], "portal imports workers:\n" + "\n".join(found)


# The project's top-level folders; bench/ and scripts/ are folders of scripts, not packages, so grimp cannot read
# them: the circle check below parses every file itself.
TOP_LEVEL = ("colorization", "training", "workers", "portal", "bench", "scripts")


def _arrows() -> dict[str, dict[str, str]]:
    """top-level folder -> {another top-level folder it imports: the first file and import that does}, from
    every import statement of its files (inside functions too)."""
    arrows: dict[str, dict[str, str]] = {top: {} for top in TOP_LEVEL}
    for top in TOP_LEVEL:
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    target = name.split(".")[0]
                    if target in TOP_LEVEL and target != top:
                        arrows[top].setdefault(target, f"{path.relative_to(ROOT).as_posix()}: import {name}")
    return arrows


def _circles(arrows: dict[str, dict[str, str]]) -> list[list[str]]:
    """Each circle of `arrows` (a path that comes back to where it started), once per starting folder."""
    found = []

    def walk(path: list[str]) -> None:
        for target in arrows.get(path[-1], {}):
            if target == path[0]:
                found.append([*path, target])
            elif target not in path:
                walk([*path, target])

    for top in arrows:
        walk([top])
    return found


def test_the_circle_check_finds_a_circle_of_three():
    assert _circles({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}) == [
        ["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"]
    ]  # fmt: skip
    assert _circles({"a": {"b": ""}, "b": {"c": ""}, "d": {"a": ""}}) == []


def test_top_level_packages_form_no_circle():
    """colorization <- training <- workers -> portal, and bench and scripts import what they measure or run:
    no arrow comes back, however long the way round."""
    arrows = _arrows()
    circles = [
        " -> ".join(path) + "\n  " + "\n  ".join(arrows[a][b] for a, b in itertools.pairwise(path))
        for path in _circles(arrows)
    ]
    assert circles == [], "circles between top-level packages:\n" + "\n".join(circles)
    assert "workers" not in arrows["portal"], arrows["portal"]["workers"]
    assert arrows["workers"].keys() >= {"portal", "colorization"}  # the check reads the real imports
