"""Home, Layers and Models: each opens by its URL without errors and matches its screenshots."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def url_path(page_file: str) -> str | None:
    """The page's URL as app.py registers it: "/" for the default page, else /<url_path or file stem>;
    None while app.py does not list the file."""
    source = (ROOT / "app.py").read_text()
    call = re.search(rf"st\.Page\(\s*[\"']{re.escape(page_file)}[\"'](.*?)\)\s*,?\s*$", source, re.M)
    if call is None:
        return None
    if re.search(r"default\s*=\s*True", call.group(1)):
        return "/"
    given = re.search(r"url_path\s*=\s*[\"']([^\"']*)[\"']", call.group(1))
    return "/" + (given.group(1) if given else Path(page_file).stem)


def lesson_page(name: str, page_file: str):
    path = url_path(page_file)
    if not (ROOT / page_file).exists():
        reason = f"{page_file} is not written yet"
    elif path is None:
        reason = f"app.py does not list {page_file} yet"
    else:
        reason = ""
    return pytest.param(name, path, id=name, marks=pytest.mark.skipif(bool(reason), reason=reason))


@pytest.mark.parametrize("name,path", [
    lesson_page("home", "pages/home.py"),
    lesson_page("layers", "pages/layers.py"),
    lesson_page("models", "pages/models.py"),
])
def test_page_matches_its_screenshots(app, assert_snapshot, name, path):
    app.goto(path)
    assert app.page.get_by_test_id("stMainBlockContainer").get_by_role("heading").count() > 0
    assert_snapshot(app.page.get_by_test_id("stMainBlockContainer"), f"{name}_main")
    # The sidebar's own widgets, if the page has any (the page navigation above them is not the page's).
    widgets = app.page.get_by_test_id("stSidebarUserContent").get_by_test_id("stVerticalBlock")
    if widgets.count() and widgets.first.get_by_test_id("stElementContainer").count():
        assert_snapshot(widgets.first, f"{name}_sidebar")
