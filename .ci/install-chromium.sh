#!/usr/bin/env bash
# Installs Debian's Chromium for the headless-browser test of the testnet report
# (test/unit/testnet-report-browser.test.ts), unless it is already installed. Idempotent.
# .ci/run runs this first and sets SMARTMARKET_REQUIRE_BROWSER=1: there the test fails without a browser.
set -euo pipefail

version() {
  # The Debian wrapper script prints shell noise on stderr; only the version line matters.
  /usr/bin/chromium --version 2>/dev/null | head -n 1
}

if [ -x /usr/bin/chromium ]; then
  echo "::: chromium present: $(version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
echo "::: chromium installed: $(version)"
