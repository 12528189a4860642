#!/bin/sh
# Installs what the browser tests of the dashboard need beyond Python packages: Debian's
# headless Chromium and its WebDriver. Without them those tests skip with a reason; CI runs
# this through `make test` so that they run there.
set -e
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "install-test-deps: chromium and chromedriver already installed"
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: skipped (needs root and apt-get); the dashboard browser tests will skip"
    exit 0
fi
echo "install-test-deps: installing chromium and chromium-driver with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
echo "install-test-deps: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)"
