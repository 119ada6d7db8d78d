#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages) and builds mailjar into ./build.
# Idempotent and quick when everything is there: apt is only called for missing packages, and the
# build is incremental (ninja + ccache).
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  g++ cmake ninja-build pkg-config ccache git
  # libraries
  libboost1.81-dev libssl-dev libgmime-3.0-dev libsqlite3-dev nlohmann-json3-dev libzstd-dev
  libgtest-dev libgmock-dev
  # tests and tools: real SMTP clients, HTTP client, certificates
  python3 python3-pytest swaks libnet-ssleay-perl libio-socket-ssl-perl curl openssl jq
)

missing=()
for p in "${PACKAGES[@]}"; do
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
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -j "$JOBS"
