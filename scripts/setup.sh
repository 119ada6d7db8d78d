#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages, Chromium among them for the web UI tests), builds mailjar
# into ./build and installs the npm packages of the tests (tests/integration/npm: mailpit-api and
# playwright-core, which drives Debian's /usr/bin/chromium; it never downloads a browser of its own).
# Idempotent and quick when everything is there: apt is only called for missing packages, the
# build is incremental (ninja + ccache), and `npm ci` runs only when package-lock.json changed.
# Usage: scripts/setup.sh [--no-build | --sanitize (builds ./build-asan instead of ./build)]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  g++ cmake ninja-build pkg-config ccache git
  # libraries
  libboost1.81-dev libssl-dev libgmime-3.0-dev libsqlite3-dev nlohmann-json3-dev libzstd-dev
  libgtest-dev libgmock-dev
  # the IANA time zones that search's tz= reads (/usr/share/zoneinfo)
  tzdata
  # tests and tools: real SMTP clients, HTTP client, certificates
  python3 python3-pytest swaks libnet-ssleay-perl libio-socket-ssl-perl curl openssl jq
  # tests: the mailpit-api npm client, and the web UI in headless Chromium (driven by playwright-core)
  nodejs npm chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  # A node installed otherwise (e.g. NodeSource's nodejs, which bundles npm and conflicts with
  # Debian's npm package) is kept: the commands are what the tests need.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
    # A chromium installed otherwise (not Debian's package) is kept too: the tests run the command.
    chromium) command -v chromium >/dev/null && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # libboost1.81-dev conflicts with the default 1.74 dev packages; apt replaces them.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0

JOBS="${MAILJAR_JOBS:-$(nproc)}"
if [ "${1:-}" = "--sanitize" ]; then
  # The sanitizer build of scripts/test.sh (ASan + UBSan, gcc), beside the normal one.
  if [ ! -f build-asan/build.ninja ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILJAR_SANITIZE=ON >/dev/null
  fi
  cmake --build build-asan -j "$JOBS"
  exit 0
fi
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -j "$JOBS"

# npm packages of the integration tests: reinstalled when missing or older than the lock file.
NPM_DIR=tests/integration/npm
if [ ! -f "$NPM_DIR/node_modules/.package-lock.json" ] ||
   [ "$NPM_DIR/package-lock.json" -nt "$NPM_DIR/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in $NPM_DIR"
  (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
