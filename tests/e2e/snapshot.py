"""Screenshot regression: compare a screenshot with its baseline in __snapshots__/ using pixelmatch.

A missing baseline is written and the test fails, saying so (look at it, then commit it). A mismatch
writes <name>-actual.png, -expected.png and -diff.png to results/ and fails with their path.
UPDATE_SNAPSHOTS=1 (or pytest's --update-snapshots) rewrites the baselines on purpose.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image
from pixelmatch.contrib.PIL import pixelmatch
from playwright.sync_api import Locator, Page

SNAPSHOTS = Path(__file__).parent / "__snapshots__"
RESULTS = Path(__file__).parent / "results"
THRESHOLD = 0.05  # pixelmatch's colour distance (0 to 1) below which two pixels count as equal
MAX_CHANGED = 0.003  # share of pixels that may differ: 3 in 1000 (anti-aliasing, sub-pixel text)
STABLE_S = 90  # generous: how long the pixels may take to stop changing on two loaded cores
# The header floats over the top of the main area; its menu and "running" indicator are not the page's.
HIDE_CSS = ("[data-testid='stHeader'], [data-testid='stToolbar'], [data-testid='stStatusWidget'], "
            "[data-testid='stDecoration'] { visibility: hidden !important; }")


def update_requested(option: bool = False) -> bool:
    return option or os.environ.get("UPDATE_SNAPSHOTS", "") not in ("", "0", "false")


def stable_screenshot(target: Page | Locator, **options) -> bytes:
    """A screenshot once two in a row are equal. Canvases (the dataframe grid) paint without changing the
    DOM, so an idle app may still be painting; its pixels say when it is done (as Playwright's own
    toHaveScreenshot waits)."""
    png = target.screenshot(**options)
    deadline = time.monotonic() + STABLE_S
    while time.monotonic() < deadline:
        again = target.screenshot(**options)
        if again == png:
            return png
        png = again
    pytest.fail(f"the screenshot still changed after {STABLE_S} s")


def assert_snapshot(target: Page | Locator, name: str, *, update: bool = False, mask: list[Locator] | None = None,
                    max_changed: float = MAX_CHANGED) -> None:
    """Screenshot `target` (animations stopped, caret and header hidden, `mask` painted over) and compare."""
    png = stable_screenshot(target, animations="disabled", caret="hide", scale="css", mask=mask or [], style=HIDE_CSS)
    for stale in RESULTS.glob(f"{name}-*.png"):  # images of an earlier failure would mislead
        stale.unlink()
    baseline = SNAPSHOTS / f"{name}.png"
    if update or not baseline.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        baseline.write_bytes(png)
        if update:
            return
        pytest.fail(f"no baseline for {name!r}: wrote {baseline}; look at it, then run again")
    actual = Image.open(io.BytesIO(png)).convert("RGBA")
    expected = Image.open(baseline).convert("RGBA")
    RESULTS.mkdir(exist_ok=True)
    actual_path = RESULTS / f"{name}-actual.png"
    if actual.size != expected.size:
        actual_path.write_bytes(png)
        pytest.fail(f"{name}: size {actual.size[0]}x{actual.size[1]} differs from the baseline's "
                    f"{expected.size[0]}x{expected.size[1]} ({baseline}); actual written to {actual_path}")
    diff = Image.new("RGBA", actual.size)
    changed = pixelmatch(actual, expected, diff, threshold=THRESHOLD)
    share = changed / (actual.size[0] * actual.size[1])
    if share > max_changed:
        actual_path.write_bytes(png)
        shutil.copyfile(baseline, RESULTS / f"{name}-expected.png")
        diff.save(RESULTS / f"{name}-diff.png")
        pytest.fail(f"{name}: {changed} pixels ({share:.2%}) differ from {baseline}, more than {max_changed:.2%}; "
                    f"see {RESULTS}/{name}-{{actual,expected,diff}}.png")
