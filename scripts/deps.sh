#!/bin/sh
# Installs what msfwd needs to build and test on Debian 12 (apt-get; sudo when not root).
# Usage: scripts/deps.sh [build|test]   (test also installs the peers the integration tests use)
set -eu
what=${1:-build}
pkgs="build-essential autoconf automake libtool pkg-config
      libcurl4-openssl-dev libjson-c-dev librdkafka-dev zlib1g-dev libinih-dev libssl-dev"
if [ "$what" = test ]; then
    pkgs="$pkgs libcmocka-dev python3 openssl clang libclang-rt-14-dev kcat syslog-ng-core"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
