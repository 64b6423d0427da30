#!/bin/sh
# Install everything outpost needs on a fresh Debian 12 machine. Idempotent:
# a second run only checks, so every make target that needs it can call it.
#
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh cross-TRIPLET  also that cross compiler and the target's
#                             libraries (multiarch -dev packages): TRIPLET is
#                             aarch64-linux-gnu (arm64) or arm-linux-gnueabihf
#                             (armhf); `cross` alone is aarch64-linux-gnu
#   scripts/setup.sh emu      both cross setups and qemu-user (make check-arm)
#   scripts/setup.sh system-curl  also Debian's libcurl (for make CURL=system)
# The package lists are split into words on purpose.
# shellcheck disable=SC2086
set -eu

# systemd: systemd-analyze, systemd-sysusers and systemd-tmpfiles check the
# unit (tests/e2e/test_unit.sh); a Debian 12 container lacks it. shellcheck:
# the OpenWrt init script and the packaging tests. python3: the fake notify
# socket and the serial relay of the end-to-end tests. debhelper and
# lintian: `make deb` and its test (tests/e2e/test_deb.sh). tzdata: the
# "timezone" of quiet hours (unit test_config, e2e test_quiet).
PKGS="build-essential pkg-config ca-certificates openssl jq curl iproute2
libmosquitto-dev liblmdb-dev lmdb-utils libmbedtls-dev libcjson-dev libcmocka-dev
libnghttp2-dev libmicrohttpd-dev mosquitto mosquitto-clients valgrind dpkg-dev wrk
clang libclang-rt-14-dev faketime socat nghttp2-proxy mandoc systemd shellcheck
python3 debhelper lintian tzdata"
SYSCURL_PKGS="libcurl4-openssl-dev"
# The target's libraries come from Debian's multiarch packages (:arm64,
# :armhf); cmocka too, for the unit tests run under qemu (make check-arm),
# and libc6:ARCH, whose loader qemu-user runs the target's programs with.
cross_pkgs() { # ARCH TRIPLET
	echo "gcc-$2 libc6-dev-$1-cross libc6:$1 libmosquitto-dev:$1 liblmdb-dev:$1 libmbedtls-dev:$1
libcjson-dev:$1 libnghttp2-dev:$1 libcmocka-dev:$1"
}
EMU_PKGS="qemu-user"

stamp_dir=${OUTPOST_SETUP_STAMP:-build/.setup}
want=${1:-base}
[ "$want" = cross ] && want=cross-aarch64-linux-gnu
# Debian architectures to add to dpkg, and the extra packages for $want.
arches=""; extra=""
case $want in
base) ;;
system-curl) extra=$SYSCURL_PKGS ;;
cross-aarch64-linux-gnu) arches=arm64; extra=$(cross_pkgs arm64 aarch64-linux-gnu) ;;
cross-arm-linux-gnueabihf) arches=armhf; extra=$(cross_pkgs armhf arm-linux-gnueabihf) ;;
emu) arches="arm64 armhf"
	extra="$(cross_pkgs arm64 aarch64-linux-gnu) $(cross_pkgs armhf arm-linux-gnueabihf) $EMU_PKGS" ;;
*) echo "setup.sh: unknown kind '$want' (base, system-curl, cross-aarch64-linux-gnu," \
	"cross-arm-linux-gnueabihf, emu)" >&2; exit 2 ;;
esac

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

need="$(missing $PKGS) $(missing $extra)"
for a in $arches; do
	dpkg --print-foreign-architectures | grep -qx "$a" || { sudo_ dpkg --add-architecture "$a"; need="$need update"; }
done
src=$(enable_deb_src)
# Blank: nothing but spaces.
blank() { [ -z "$(printf '%s' "$1" | tr -d ' \n')" ]; }

if ! blank "$need" || [ -n "$src" ]; then
	export DEBIAN_FRONTEND=noninteractive
	sudo_ apt-get update -q
	pk="$(missing $PKGS) $(missing $extra)"
	blank "$pk" || sudo_ apt-get install -y -q --no-install-recommends $pk
fi
# mosquitto's Debian package starts a system broker on 1883; tests run their
# own brokers on random ports and do not need it.
mkdir -p "$stamp_dir" && touch "$stamp_dir/$want"
