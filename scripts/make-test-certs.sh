#!/bin/sh
# make-test-certs.sh DIR - a throwaway test CA and a localhost server cert.
#
# For twilio-sim in tests, demos and benchmarks only: the keys are written
# unencrypted under build/ and must never be committed or used elsewhere.
# Idempotent: does nothing if DIR/ca.pem exists, so parallel test scripts
# share one CA (they serialise on a lock directory while creating it).
#
# Extensions are spelled out because mbedTLS 2.28 (the daemon's TLS client)
# checks them: the CA needs basicConstraints CA:TRUE and keyUsage
# keyCertSign; the server cert needs digitalSignature (ECDHE-ECDSA) and
# extendedKeyUsage serverAuth, and a SAN for both names clients use.
# mbedTLS 2.28 ignores iPAddress SAN entries and matches "127.0.0.1" only
# against dNSName entries, so the IP is listed both ways; other clients
# (OpenSSL, GnuTLS) use the iPAddress entry.
set -eu

dir=${1:?usage: make-test-certs.sh DIR}
[ -f "$dir/ca.pem" ] && exit 0
mkdir -p "$dir"

lock="$dir/.lock"
i=0
until mkdir "$lock" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -gt 300 ] && { echo "make-test-certs: $lock held for 30 s" >&2; exit 1; }
	sleep 0.1
done
trap 'rmdir "$lock"' EXIT
[ -f "$dir/ca.pem" ] && exit 0

tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
trap 'rm -rf "$tmp"; rmdir "$lock"' EXIT

cat >"$tmp/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = outpost test CA - not for production
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

cat >"$tmp/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key" 2>/dev/null
openssl req -new -x509 -key "$tmp/ca.key" -sha256 -days 3650 \
	-config "$tmp/ca.cnf" -out "$tmp/ca.pem"

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/server.key" 2>/dev/null
openssl req -new -key "$tmp/server.key" -subj "/CN=localhost" -out "$tmp/server.csr"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
	-CAcreateserial -sha256 -days 825 -extfile "$tmp/server.ext" \
	-out "$tmp/server.pem" 2>/dev/null

chmod 600 "$tmp/ca.key" "$tmp/server.key"
for f in ca.key server.key server.pem; do
	mv "$tmp/$f" "$dir/$f"
done
# ca.pem last: its presence is what marks the directory complete.
mv "$tmp/ca.pem" "$dir/ca.pem"
