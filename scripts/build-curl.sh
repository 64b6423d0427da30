#!/bin/sh
# Build a static libcurl from Debian's own curl source package (with Debian's
# patches applied) against mbedTLS, HTTP and HTTPS only, so outpostd's HTTPS
# runs on the TLS stack a gateway runs. HTTP/2 comes from Debian's nghttp2
# (libnghttp2-dev; the Makefile links its libnghttp2.a, so the daemon needs
# no libnghttp2 on the gateway). Usage: build-curl.sh OUTDIR [HOST [MBEDTLS]]
#   OUTDIR   receives include/ and lib/libcurl.a
#   HOST     a GNU triplet for cross builds (e.g. aarch64-linux-gnu), or ""
#   MBEDTLS  an mbedTLS built by build-dep.sh (include/, lib/*.a) to build
#            against instead of Debian's libmbedtls-dev: make STATIC=1, whose
#            mbedTLS is configured down (scripts/mbedtls_outpost.h)
set -eu
out=$(realpath -m "$1"); host=${2:-}; mbedtls=${3:+$(realpath "$3")}
# Built by this very script: a changed script (options) builds again.
[ "$out/lib/libcurl.a" -nt "$0" ] && exit 0
work="$out.src"; rm -rf "$work"; mkdir -p "$work"; cd "$work"

apt-get source --download-only curl >/dev/null 2>&1 ||
	{ echo "build-curl: 'apt-get source curl' failed; run scripts/setup.sh" >&2; exit 1; }
dpkg-source -x curl_*.dsc src >/dev/null 2>&1
cd src

hostarg=""; [ -n "$host" ] && hostarg="--host=$host"
# configure asks pkg-config for libnghttp2; a cross build must read the
# target's .pc files (multiarch), not the build machine's.
[ -n "$host" ] && export PKG_CONFIG_LIBDIR="/usr/lib/$host/pkgconfig:/usr/share/pkgconfig"
# Threaded resolver: name lookups never block the poll loop (DESIGN invariant 3).
./configure $hostarg --prefix="$out" --disable-shared --enable-static \
	--with-mbedtls${mbedtls:+="$mbedtls"} --without-openssl --without-gnutls --without-wolfssl \
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
	--enable-http --enable-threaded-resolver --enable-ipv6 \
	--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp \
	--disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
	--disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-manual \
	--disable-docs --disable-ntlm --disable-alt-svc --disable-hsts --disable-cookies \
	--without-zlib --without-brotli --without-zstd --without-libidn2 --without-libpsl \
	--with-nghttp2 --without-librtmp --without-libssh2 --without-ngtcp2 \
	--without-nghttp3 --without-quiche --without-hyper --without-libgsasl \
	>configure.log 2>&1 || { tail -30 configure.log >&2; exit 1; }
grep -q '^#define USE_NGHTTP2 1' lib/curl_config.h ||
	{ echo "build-curl: configure found no nghttp2 (libnghttp2-dev)" >&2; exit 1; }
make -j"$(nproc)" -C lib >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
make -C lib install >/dev/null && make -C include install >/dev/null
# The Debian source version it came from: the package's Built-Using field
# (debian/rules), which tells that a curl security update needs a rebuild.
dpkg-parsechangelog -l debian/changelog -S Version >"$out/debian-source-version"
cd / && rm -rf "$work"
echo "build-curl: $out/lib/libcurl.a"
