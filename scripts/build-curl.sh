#!/bin/sh
# Build a static libcurl from Debian's own curl source package (with Debian's
# patches applied) against mbedTLS, HTTP and HTTPS only, so outpostd's HTTPS
# runs on the TLS stack a gateway runs. Usage: build-curl.sh OUTDIR [HOST]
#   OUTDIR  receives include/ and lib/libcurl.a
#   HOST    a GNU triplet for cross builds (e.g. aarch64-linux-gnu)
set -eu
out=$(realpath -m "$1"); host=${2:-}
[ -f "$out/lib/libcurl.a" ] && exit 0
work="$out.src"; rm -rf "$work"; mkdir -p "$work"; cd "$work"

apt-get source --download-only curl >/dev/null 2>&1 ||
	{ echo "build-curl: 'apt-get source curl' failed; run scripts/setup.sh" >&2; exit 1; }
dpkg-source -x curl_*.dsc src >/dev/null 2>&1
cd src

hostarg=""; [ -n "$host" ] && hostarg="--host=$host"
# Threaded resolver: name lookups never block the poll loop (DESIGN invariant 3).
./configure $hostarg --prefix="$out" --disable-shared --enable-static \
	--with-mbedtls --without-openssl --without-gnutls --without-wolfssl \
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
	--enable-http --enable-threaded-resolver --enable-ipv6 \
	--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp \
	--disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
	--disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-manual \
	--disable-docs --disable-ntlm --disable-alt-svc --disable-hsts --disable-cookies \
	--without-zlib --without-brotli --without-zstd --without-libidn2 --without-libpsl \
	--without-nghttp2 --without-librtmp --without-libssh2 --without-ngtcp2 \
	--without-nghttp3 --without-quiche --without-hyper --without-libgsasl \
	>configure.log 2>&1 || { tail -30 configure.log >&2; exit 1; }
make -j"$(nproc)" -C lib >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
make -C lib install >/dev/null && make -C include install >/dev/null
cd / && rm -rf "$work"
echo "build-curl: $out/lib/libcurl.a"
