#!/bin/sh
# Build a static library from Debian's own source package (Debian's patches
# applied) with the target's flags, for the builds that link it in:
#   lmdb       32-bit targets: Debian 12's armhf liblmdb0 calls open, pread,
#              pwrite, fstat and ftruncate with a 32-bit off_t, so a store
#              stops at 2 GiB there; built here with -D_FILE_OFFSET_BITS=64.
#   mbedtls    make STATIC=1 (and on armhf with a 64-bit time_t)
#   mosquitto  make STATIC=1: the client library only, WITHOUT TLS, so no
#              libssl or libcrypto comes into the process (outpostd talks to
#              the broker on the gateway; it sets no MQTT TLS option)
#   cjson      make STATIC=1 (Debian ships no libcjson.a)
# Usage: build-dep.sh NAME OUTDIR [HOST]
#   OUTDIR  receives include/, lib/*.a and debian-source-version
#   HOST    a GNU triplet for cross builds (e.g. arm-linux-gnueabihf)
# CPPFLAGS and CFLAGS from the environment are added (the Makefile passes
# the target's, e.g. -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 for armhf).
set -eu
name=$1; out=$(realpath -m "$2"); host=${3:-}
# Built by this very script: a changed script (options) builds again, and
# for mbedtls a changed configuration (mbedtls_outpost.h beside it).
conf=$(dirname "$0")/mbedtls_outpost.h
# shellcheck disable=SC3013 # dash and bash have -nt
[ "$out/debian-source-version" -nt "$0" ] &&
	{ [ "$name" != mbedtls ] || [ "$out/debian-source-version" -nt "$conf" ]; } && exit 0
conf=$(realpath "$conf")
cc=${host:+$host-}gcc; ar=${host:+$host-}ar
# A section per function and object: a static link with --gc-sections
# (make STATIC=1) keeps only what outpostd uses (mbedTLS: 130 KiB less).
flags="-O2 -g -ffunction-sections -fdata-sections ${CPPFLAGS:-} ${CFLAGS:-}"
work="$out.src"; rm -rf "$work" "$out"; mkdir -p "$work" "$out/lib" "$out/include"; cd "$work"

apt-get source --download-only "$name" >/dev/null 2>&1 ||
	{ echo "build-dep: 'apt-get source $name' failed; run scripts/setup.sh" >&2; exit 1; }
dpkg-source -x "$name"_*.dsc src >/dev/null 2>&1
cd src
log="$work/build.log"
run() { # CMD...: logged; on failure, the log's end and exit
	"$@" >>"$log" 2>&1 || { echo "build-dep: $name: $1 failed:" >&2; tail -30 "$log" >&2; exit 1; }
}
# shellcheck disable=SC2086 # flag lists
case $name in
lmdb)
	# Upstream's Makefile flags (THREADS, OPT, W), which Debian's build
	# keeps, less the fall-through warning its switches give on purpose.
	for f in mdb midl; do
		run $cc -pthread $flags -W -Wall -Wno-unused-parameter -Wno-implicit-fallthrough \
			-c "libraries/liblmdb/$f.c" -o "$f.o"
	done
	$ar rcs "$out/lib/liblmdb.a" mdb.o midl.o
	cp libraries/liblmdb/lmdb.h "$out/include/" ;;
cjson)
	run $cc $flags -Wall -c cJSON.c -o cJSON.o
	$ar rcs "$out/lib/libcjson.a" cJSON.o
	mkdir -p "$out/include/cjson" && cp cJSON.h "$out/include/cjson/" ;;
mbedtls)
	# Debian's configuration (include/mbedtls/config.h as patched) less
	# what mbedtls_outpost.h takes out, which config.h includes last. The
	# static build's libcurl is compiled against these headers
	# (build-curl.sh OUTDIR HOST MBEDTLS): the structs it embeds follow them.
	cp "$conf" include/mbedtls/outpost_config.h
	sed -i 's|^//#define MBEDTLS_USER_CONFIG_FILE .*|#define MBEDTLS_USER_CONFIG_FILE "mbedtls/outpost_config.h"|' \
		include/mbedtls/config.h
	grep -q '^#define MBEDTLS_USER_CONFIG_FILE "mbedtls/outpost_config.h"' include/mbedtls/config.h ||
		{ echo "build-dep: mbedtls: no MBEDTLS_USER_CONFIG_FILE line in config.h" >&2; exit 1; }
	run make -C library CC="$cc" AR="$ar" CFLAGS="$flags" \
		libmbedcrypto.a libmbedx509.a libmbedtls.a
	cp library/libmbedcrypto.a library/libmbedx509.a library/libmbedtls.a "$out/lib/"
	cp -r include/mbedtls "$out/include/" ;;
mosquitto)
	run make -C lib CC="$cc" AR="$ar" CFLAGS="$flags" WITH_TLS=no WITH_TLS_PSK=no \
		WITH_SRV=no WITH_CJSON=no WITH_SHARED_LIBRARIES=no WITH_STATIC_LIBRARIES=yes \
		WITH_DOCS=no libmosquitto.a
	cp lib/libmosquitto.a "$out/lib/"
	cp include/mosquitto.h include/mqtt_protocol.h "$out/include/" ;;
*)
	echo "build-dep: unknown library '$name' (lmdb, cjson, mbedtls, mosquitto)" >&2; exit 2 ;;
esac
# The Debian source version: the package's Built-Using (debian/rules).
dpkg-parsechangelog -l debian/changelog -S Version >"$out/debian-source-version"
cd / && rm -rf "$work"
echo "build-dep: $name in $out"
