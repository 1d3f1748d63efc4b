"""Dependencies point one way: nothing below the API layer imports from it (issue 11, item 7)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
BELOW_THE_API = ("services", "domain", "store", "adapters", "workers")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # imports inside functions too
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_module_under_services_domain_store_adapters_or_workers_imports_the_api():
    offenders = {
        str(path.relative_to(ROOT.parent)): sorted(
            m for m in imported_modules(path) if m.startswith("chalicelib.api")
        )
        for package in BELOW_THE_API
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}
    assert len(offenders) > 40  # the walk did find the modules


def test_the_domain_errors_do_not_know_http():
    assert not any(
        m == "chalice" or m.startswith(("chalice.", "chalicelib.api"))
        for m in imported_modules(ROOT / "domain" / "errors.py")
    )
