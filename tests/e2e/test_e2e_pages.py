"""Home, Layers and Models: each opens by its URL (from pages/ui/common/site.py) without errors and matches
its screenshots; on Layers and Models nothing a learner reads is cut or wrapped to column 0."""

import pytest

from pages.ui.common.site import PAGES


def page_url(page_file: str) -> str:
    """The page's URL as the navigation registers it (pages/ui/common/site.py): "/" for the default page."""
    (entry,) = [page for page in PAGES if page.path == page_file]
    return "/" + entry.url_path


# Per visible code block: [language, white-space, scrollWidth, clientWidth, first line]; per dataframe
# grid: its scroller's [scrollWidth, clientWidth].
CODE_BOXES_JS = """() => [...document.querySelectorAll("[data-testid='stCode'] pre")]
  .filter((pre) => pre.offsetParent !== null && pre.offsetHeight > 0)
  .map((pre) => [pre.querySelector("code").className.match(/language-(\\w+)/)?.[1] ?? "",
                 getComputedStyle(pre.querySelector("code")).whiteSpace, pre.scrollWidth, pre.clientWidth,
                 pre.innerText.split("\\n")[0]])"""
GRIDS_JS = """() => [...document.querySelectorAll("[data-testid='stDataFrame'] .dvn-scroller")]
  .map((scroller) => [scroller.scrollWidth, scroller.clientWidth])"""


def assert_nothing_a_learner_reads_is_cut_or_wrapped_to_column_0(app) -> None:
    """In the 1280 px window: code and torch's multi-line printouts keep their lines (a wrapped line
    restarts at column 0, which reads as broken indentation) and scroll sideways where too wide;
    print(model), one-line printouts and the tables fit their boxes."""
    boxes = app.page.evaluate(CODE_BOXES_JS)
    code = [box for box in boxes if box[0] in ("python", "r")]
    printouts = [box for box in boxes if box[0] not in ("python", "r")]
    assert code and printouts and [box for box in code if box[1] != "pre"] == []
    must_fit = [box for box in printouts if box[1] == "pre-wrap" or box[4] == "Sequential("]
    assert [box for box in must_fit if box[2] > box[3]] == []
    grids = app.page.evaluate(GRIDS_JS)
    assert [grid for grid in grids if grid[0] > grid[1]] == []


@pytest.mark.parametrize("name,path", [
    ("home", page_url("pages/home.py")),
    ("layers", page_url("pages/layers.py")),
    ("models", page_url("pages/models.py")),
])
def test_page_matches_its_screenshots(app, assert_snapshot, name, path):
    """Each page opens with a heading and matches its screenshots; on Layers and Models (their code and
    printouts), first, in the window as it opened, nothing a learner reads is cut or wrapped to column 0."""
    app.goto(path)
    assert app.page.get_by_test_id("stMainBlockContainer").get_by_role("heading").count() > 0
    if name in ("layers", "models"):
        assert_nothing_a_learner_reads_is_cut_or_wrapped_to_column_0(app)
    assert_snapshot(app.page.get_by_test_id("stMainBlockContainer"), f"{name}_main")
    # The sidebar's own widgets, if the page has any (the page navigation above them is not the page's).
    widgets = app.page.get_by_test_id("stSidebarUserContent").get_by_test_id("stVerticalBlock")
    if widgets.count() and widgets.first.get_by_test_id("stElementContainer").count():
        assert_snapshot(widgets.first, f"{name}_sidebar")
