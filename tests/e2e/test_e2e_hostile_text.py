"""Text from a link, a CSV or a checkpoint, rendered by Streamlit's own Markdown in a real browser:
no link, image, colour, icon or emoji comes out, and the browser fetches nothing the text names."""

import io
from urllib.parse import urlencode, urlparse

import torch

from core.checkpoint import save_checkpoint
from core.config import Config
from core.trainer import Trainer
from pages.ui.common.text import JOINER

EVIL = "evil.example"
# Each under config.shown's 40 characters, so the message carries the whole pattern.
LINK = f"[Log in](http://{EVIL}/a)"
STREAMLIT_MARKUP = ":red[x] :material/lock: :smile:"
IMAGE = f"![i](http://{EVIL}/t.png)"
BARE = f"www.{EVIL} me@{EVIL}"

# What Streamlit's Markdown makes of markup: <a>, <img>, coloured spans, material icons (role=img),
# emoji (remark-emoji turns :smile: into the character).
MARKUP_JS = """
(evil) => {
  const alerts = [...document.querySelectorAll("[data-testid='stAlert'], [data-testid='stCaptionContainer']")];
  return {
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href).filter((h) => h.includes(evil)),
    mailto: [...document.querySelectorAll("a[href^='mailto:']")].map((a) => a.href),
    images: [...document.querySelectorAll("img")].map((i) => i.src).filter((s) => s.includes(evil)),
    coloured: alerts.flatMap((a) => [...a.querySelectorAll(
      ".stMarkdownColoredText, .stMarkdownColoredBackground, .stMarkdownBadge")]).length,
    icons: alerts.flatMap((a) => [...a.querySelectorAll("[role='img']")]).map((i) => i.getAttribute("aria-label")),
    emoji: document.body.innerText.includes("\\u{1F604}"),
  };
}
"""
NONE_FOUND = {"links": [], "mailto": [], "images": [], "coloured": 0, "icons": [], "emoji": False}


def alert_text(app) -> str:
    """Every alert's text as a reader sees it (the invisible word joiners left out)."""
    texts = app.page.get_by_test_id("stAlert").all_inner_texts()
    return " ".join(texts).replace(JOINER, "")


def test_hostile_text_from_a_link_a_csv_and_a_checkpoint_is_shown_literally(app):
    fetched = []
    app.page.on("request", lambda request: fetched.append(request.url)
                if EVIL in (urlparse(request.url).hostname or "") else None)

    app.goto("/train?" + urlencode({"activation": LINK, "hidden_sizes": STREAMLIT_MARKUP, "live": IMAGE,
                                    "coefficients": BARE}))
    assert app.page.evaluate(MARKUP_JS, EVIL) == NONE_FOUND
    shown = alert_text(app)
    for text in (LINK, STREAMLIT_MARKUP, IMAGE, BARE):
        assert text in shown, shown

    columns = [LINK.replace("/a)", "/c)"), STREAMLIT_MARKUP, "y"]
    csv = (",".join(columns) + "\n1,1,1\n2,2,2\nabc,3,3\n4,4,4\n").encode()
    app.act(lambda: app.page.locator(".st-key-data_source").get_by_text("Upload a CSV").click())
    uploader = app.page.locator(".st-key-csv_file input[type='file']")
    app.act(lambda: uploader.set_input_files({"name": "data.csv", "mimeType": "text/csv", "buffer": csv}))
    assert f"column '{columns[0]}' has 1 non-numeric value" in alert_text(app)
    chips = app.page.locator(".st-key-csv_features").inner_text()
    assert columns[0] in chips and STREAMLIT_MARKUP in chips, chips  # option labels: plain text
    assert app.page.evaluate(MARKUP_JS, EVIL) == NONE_FOUND

    payload = torch.load(io.BytesIO(save_checkpoint(Trainer(Config().replace(epochs=3)))), weights_only=True)
    payload["state_dict"][IMAGE] = torch.zeros(1)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    checkpoint = app.page.locator(".st-key-checkpoint_file input[type='file']")
    app.act(lambda: checkpoint.set_input_files({"name": f"{LINK}.pt", "mimeType": "application/octet-stream",
                                                "buffer": buffer.getvalue()}))
    assert f"{LINK}.pt was refused: weight '{IMAGE}' is not part" in alert_text(app)
    assert app.page.evaluate(MARKUP_JS, EVIL) == NONE_FOUND
    assert fetched == []


TEACHER_LINKS = {"lock": f"seed,[click me](https://{EVIL}/phish)", "hide": "![img](http://127.0.0.1:9/x.png)"}


def test_a_teachers_link_naming_a_link_and_an_image_shows_them_as_text(app):
    fetched = []
    app.page.on("request", lambda request: fetched.append(request.url)
                if urlparse(request.url).port == 9 or EVIL in (urlparse(request.url).hostname or "") else None)
    for name, value in TEACHER_LINKS.items():
        app.goto("/train?" + urlencode({name: value}))
        found = app.page.evaluate(MARKUP_JS, EVIL)
        # The page's own heading anchors link to this very URL, the link's parameters included.
        found["links"] = [link for link in found["links"] if not link.startswith(app.base_url)]
        assert found == NONE_FOUND
        assert app.page.locator("img[src*='127.0.0.1:9']").count() == 0
        assert value.split(",")[-1] in alert_text(app)
    assert fetched == []
