#!/bin/sh
# Install everything outpost needs on a fresh Debian 12 machine. Idempotent:
# a second run only checks, so every make target that needs it can call it.
#
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh cross    also the arm64 cross compiler and arm64 libraries
#   scripts/setup.sh system-curl  also Debian's libcurl (for make CURL=system)
# The package lists are split into words on purpose.
# shellcheck disable=SC2086
set -eu

# systemd: systemd-analyze, systemd-sysusers and systemd-tmpfiles check the
# unit (tests/e2e/test_unit.sh); a Debian 12 container lacks it. shellcheck:
# the OpenWrt init script and the packaging tests. python3: the fake notify
# socket and the serial relay of the end-to-end tests. debhelper and
# lintian: `make deb` and its test (tests/e2e/test_deb.sh).
PKGS="build-essential pkg-config ca-certificates openssl jq curl iproute2
libmosquitto-dev liblmdb-dev lmdb-utils libmbedtls-dev libcjson-dev libcmocka-dev
libnghttp2-dev libmicrohttpd-dev mosquitto mosquitto-clients valgrind dpkg-dev wrk
clang libclang-rt-14-dev faketime socat nghttp2-proxy mandoc systemd shellcheck
python3 debhelper lintian"
SYSCURL_PKGS="libcurl4-openssl-dev"
CROSS_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross
libmosquitto-dev:arm64 liblmdb-dev:arm64 libmbedtls-dev:arm64 libcjson-dev:arm64
libnghttp2-dev:arm64"

stamp_dir=${OUTPOST_SETUP_STAMP:-build/.setup}
want=${1:-base}

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing() {
	out=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			out="$out $p"
	done
	echo "$out"
}

# Debian's curl source is needed to build libcurl against mbedTLS; it comes
# from a deb-src entry for the suites the machine already uses.
enable_deb_src() {
	f=/etc/apt/sources.list.d/outpost-src.sources
	[ -f "$f" ] && return 0
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -n '/^Types:/,/^$/p' /etc/apt/sources.list.d/debian.sources |
			sed 's/^Types:.*/Types: deb-src/' | sudo_ tee "$f" >/dev/null
	else
		grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | sed 's/^deb /deb-src /' |
			sudo_ tee /etc/apt/sources.list.d/outpost-src.list >/dev/null
		sudo_ touch "$f"
	fi
	echo updated
}

need=$(missing $PKGS)
[ "$want" = system-curl ] && need="$need $(missing $SYSCURL_PKGS)"
if [ "$want" = cross ]; then
	dpkg --print-foreign-architectures | grep -qx arm64 || { sudo_ dpkg --add-architecture arm64; need="$need update"; }
	need="$need $(missing $CROSS_PKGS)"
fi
src=$(enable_deb_src)
# Blank: nothing but spaces.
blank() { [ -z "$(printf '%s' "$1" | tr -d ' \n')" ]; }

if ! blank "$need" || [ -n "$src" ]; then
	export DEBIAN_FRONTEND=noninteractive
	sudo_ apt-get update -q
	pk=$(missing $PKGS)
	[ "$want" = cross ] && pk="$pk $(missing $CROSS_PKGS)"
	[ "$want" = system-curl ] && pk="$pk $(missing $SYSCURL_PKGS)"
	blank "$pk" || sudo_ apt-get install -y -q --no-install-recommends $pk
fi
# mosquitto's Debian package starts a system broker on 1883; tests run their
# own brokers on random ports and do not need it.
mkdir -p "$stamp_dir" && touch "$stamp_dir/$want"
