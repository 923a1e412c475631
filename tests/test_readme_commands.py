"""The README's first commands: one .venv for the app and the tests, and CI runs exactly the test command.

A fresh Debian or Ubuntu refuses a bare `pip install` (PEP 668, "externally managed"), so both
commands install into `.venv` rather than into the system's Python.
"""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(lines: list[str]) -> list[str]:
    """Lines a shell would run: blank lines and comments dropped, trailing comments cut."""
    commands = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in lines)
    return [command for command in commands if command]


def _first_block() -> list[str]:
    match = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert match, "README has no ```bash block"
    return match.group(1).splitlines()


def _steps(command: str) -> list[list[str]]:
    """`a && b` as [argv of a, argv of b]."""
    return [shlex.split(step) for step in command.split("&&")]


def test_the_readmes_first_block_holds_the_app_command_then_the_test_command():
    assert len(_commands(_first_block())) == 2


def test_ci_runs_exactly_the_readmes_test_command():
    test_command = _commands(_first_block())[1]
    ci = _commands((ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()[1:])  # past the #! line
    assert ci == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', test_command]


def test_the_app_command_installs_into_and_runs_from_one_venv():
    steps = _steps(_commands(_first_block())[0])
    assert steps == [
        ["python3", "-m", "venv", ".venv"],
        [".venv/bin/pip", "install", "-r", "requirements.txt"],
        [".venv/bin/streamlit", "run", "app.py"],
    ]


def test_the_test_command_uses_the_same_venv():
    assert _commands(_first_block())[1] == "bash scripts/test.sh"
    script = _commands((ROOT / "scripts" / "test.sh").read_text(encoding="utf-8").splitlines())
    assert "[ -x .venv/bin/python ] || python3 -m venv .venv" in script
    words = [["", *shlex.split(line)] for line in script]
    runs = [word for line in words for before, word in zip(line, line[1:])  # `-m pip` is a module, not a program
            if before != "-m" and re.fullmatch(r"\S*\b(python3?|pip3?)", word)]
    assert runs.count("python3") == 1 and set(runs) == {"python3", ".venv/bin/python"}, runs
    assert script[-1] == '.venv/bin/python -m pytest "$@"'


def test_the_readme_names_the_prerequisite_the_address_and_the_wait():
    block = "\n".join(_first_block())
    assert "sudo apt install python3-venv" in block
    after = README[README.index("```", README.index("```bash") + 3):][:600]
    assert "http://localhost:8501" in after and "first start takes a few seconds" in after
