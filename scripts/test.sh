#!/usr/bin/env bash
# Install everything the tests need, then run them all (unit, AppTest and browser tests).
# This is the README's test command and exactly what CI (.ci/run) calls.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# Browser tests use Debian's Chromium; Playwright's own download is the fallback elsewhere.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  else
    python -m playwright install chromium
  fi
fi

python -m pytest "$@"
