"""Every page declared in app.py exists and renders through the real navigation without an exception."""

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def _declared_pages() -> list[str]:
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES":
            pages = ast.literal_eval(node.value)
            return [path for entries in pages.values() for path, _, _ in entries]
    raise AssertionError("app.py has no PAGES table")


def test_every_declared_page_exists():
    missing = [p for p in _declared_pages() if not (ROOT / p).exists()]
    assert not missing


def test_every_page_file_is_declared():
    declared = set(_declared_pages())
    on_disk = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py") if p.name != "__init__.py"}
    assert on_disk <= declared


@pytest.mark.parametrize("page", _declared_pages())
def test_page_renders_through_navigation(lab_server, page):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title or at.header or at.markdown
