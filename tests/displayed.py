"""What a reader sees of Markdown the app escaped with pages.ui.common.text.plain, for tests that read it."""

import re

from pages.ui.common.text import JOINER


def displayed(markdown: str) -> str:
    """Markdown's backslash escapes resolved, plain()'s invisible joiners gone."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(JOINER, "")
