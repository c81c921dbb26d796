#!/usr/bin/env bash
# Before `npm test`: makes sure Debian's Chromium is there for the browser tests (installs it when missing and root).
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests (about a minute)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null && exit 0
fi
echo "The browser tests need Debian's chromium at /usr/bin/chromium: install it with 'apt-get install chromium'." >&2
exit 1
