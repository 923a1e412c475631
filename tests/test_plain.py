"""pages.ui.common.text.plain: text from a file or a link, shown literally in Streamlit's Markdown.

The patterns are Streamlit 1.67's own: its frontend (StreamlitMarkdown) rewrites ':material/' and
turns ':material_<name>:' into an icon, ':streamlit:' into its logo and ':<name>:' into an emoji
(remark-emoji) on the parsed text, where Markdown escapes are gone; remark-gfm links bare URLs and
e-mail addresses found in that text too. The real browser check is tests/e2e/test_e2e_hostile_text.py.
"""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pages.ui.common.text import JOINER, plain

ASCII_PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# What Streamlit's frontend acts on in a parsed text node (JavaScript's \w is ASCII only).
TEXT_NODE_PATTERNS = {
    "icon, emoji or logo": re.compile(r":[A-Za-z0-9_+-]"),
    "bare link": re.compile(r"https?://|www\.|(mailto|xmpp):[-.A-Za-z0-9_+]", re.IGNORECASE),
    "e-mail link": re.compile(r"[-.A-Za-z0-9_+]@[-A-Za-z0-9_]"),
}
HOSTILE = [
    "[Session expired - click to log in again](http://evil.example/login)",
    "![i](http://evil.example/t.png)",
    ":red[alarm] :blue-background[x] :rainbow[y] :red-badge[z]",
    ":material/lock: :material_lock: :smile: :streamlit: :+1:",
    "http://evil.example https://evil.example www.evil.example me@evil.example mailto:me@evil.example",
    "<a href='http://evil.example'>x</a> <img src=x onerror=alert(1)> &lt;b&gt;",
    "**bold** _em_ `code` ~~del~~ $x^2$ # heading\n- item\n1. item\n> quote\n| a | b |",
    "[ref]: http://evil.example\n[x][ref] <http://evil.example>",
]
PIECES = [*"[]()!:@./\\<>*_`~$#|-+ \nhtpswxmaiolredsk", "http", "://", "www.", ":red[", ":material/", "@x.co"]
mixed = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)  # the pieces markup is made of


def unescaped_punctuation(markdown: str) -> list[str]:
    """ASCII punctuation marks Markdown would act on: those not after a backslash escape."""
    found, position = [], 0
    while position < len(markdown):
        char = markdown[position]
        if char == "\\" and position + 1 < len(markdown) and markdown[position + 1] in ASCII_PUNCTUATION:
            position += 2
            continue
        if char in ASCII_PUNCTUATION:
            found.append(char)
        position += 1
    return found


def text_node(markdown: str) -> str:
    """The text Markdown parses out of an escaped string: each backslash escape becomes its mark."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def assert_inert(text: str) -> None:
    markdown = plain(text)
    assert unescaped_punctuation(markdown) == [], markdown
    node = text_node(markdown)
    for what, pattern in TEXT_NODE_PATTERNS.items():
        assert not pattern.search(node), f"{what} in {node!r}"
    # Literal: what shows is the text itself, with line breaks as spaces and invisible joiners.
    assert node.replace(JOINER, "") == re.sub(r"\s*[\r\n]+\s*", " ", text)


def test_hostile_markup_is_shown_literally():
    for text in HOSTILE:
        assert_inert(text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), mixed))
def test_no_text_ever_becomes_markup(text):
    assert_inert(text)
