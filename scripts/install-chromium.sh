#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/ui) and the browser check. Never `playwright install`:
# the tests drive /usr/bin/chromium through Python Playwright.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  /usr/bin/chromium --version 2>/dev/null || true
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium || {
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium
}
/usr/bin/chromium --version
