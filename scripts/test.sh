#!/usr/bin/env bash
# Install everything the tests need into .venv, then run them all (unit, AppTest and browser tests).
# This is the README's test command and exactly what CI (.ci/run) calls.
set -euo pipefail
cd "$(dirname "$0")/.."

# The README's .venv, created or reused: Debian and Ubuntu refuse a bare pip install (PEP 668).
# Their python3 needs `sudo apt install python3-venv` first (venv says so itself). Not re-run on an
# existing .venv: that reinstalls its pip, 19 s here.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# Browser tests use Debian's Chromium; Playwright's own download is the fallback elsewhere.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  else
    .venv/bin/python -m playwright install chromium
  fi
fi

# The linter first (ruff.toml): a style slip fails in a second, not after the suite's minutes.
.venv/bin/ruff check --quiet .
.venv/bin/python -m pytest "$@"
