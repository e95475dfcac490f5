#!/usr/bin/env bash
# Make the services the integration tests use available where this machine allows it:
# - OpenSSH's sshd (the SFTP tests start their own throw-away server on loopback): installed with apt-get
#   when missing and we are root (or have password-less sudo);
# - Chromium and its WebDriver (the support page's browser tests drive Debian's /usr/bin/chromium with
#   Playwright): installed with apt-get the same way;
# - PostgreSQL: only checked (the tests use GATEWAY_TEST_POSTGRES_URL, default 127.0.0.1:5432 database test).
# It never fails: the test suite decides (skip locally, fail with CI=true).
set -uo pipefail

if [ ! -x /usr/sbin/sshd ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || { sudo -n true 2>/dev/null && SUDO="sudo -n"; }
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "== installing openssh-server with apt-get (for the SFTP integration tests)" >&2
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends openssh-server >/dev/null 2>&1 \
      || echo "   could not install openssh-server: SFTP tests will not run" >&2
    # the package's post-install may start a system sshd on port 22; the tests use their own on a free port
  else
    echo "   sshd missing and no root: SFTP tests will not run (apt-get install openssh-server)" >&2
  fi
fi

if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || { sudo -n true 2>/dev/null && SUDO="sudo -n"; }
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "== installing chromium and chromium-driver with apt-get (for the support page's browser tests)" >&2
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver \
      >/dev/null 2>&1 || echo "   could not install chromium: browser tests will not run" >&2
  else
    echo "   chromium missing and no root: browser tests will not run (apt-get install chromium chromium-driver)" >&2
  fi
fi
exit 0
