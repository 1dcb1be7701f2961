#!/usr/bin/env bash
# Debian's Chromium for the inspector's browser test (tests/test_inspector.py drives it with
# Playwright from PyPI; `playwright install` is never used). Skips when it is already there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo ">> chromium missing and apt-get unavailable (not root?): the browser test will skip" >&2
  exit 0
fi
echo ">> apt-get install chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium >/dev/null || {
  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null
}
