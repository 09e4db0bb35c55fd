#!/usr/bin/env bash
# Makes headless Chromium and its WebDriver available for the HTML report's
# browser tests (tests/record/test_report_html.py), idempotently: installs
# Debian's chromium and chromium-driver only when /usr/bin/chromium or
# /usr/bin/chromedriver is missing. Fast when both are there.
set -euo pipefail

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "browser: installing chromium and chromium-driver" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
    apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

# (Debian's launcher may print a harmless "[: ... unexpected operator" from /etc/chromium.d/dev-shm.)
echo "browser: $(/usr/bin/chromium --version 2>/dev/null); $(/usr/bin/chromedriver --version)" >&2
