#!/bin/bash
# Config over the control protocol: show; a bad file checked and pushed is
# refused with its errors by JSON path and the running config untouched; a
# good push is written atomically, the previous file kept, and applied
# without a restart; a push cut in the middle resumes where it stopped; a
# check through the broker (signed MQTT) works the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup push
start_broker
start_sim
write_config '.control.mqtt.credentials = "remote"'
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
jq --arg k "$KEY" '.remote = {hmac_key: $k}' "$E2E_DIR/secrets.json" >"$E2E_DIR/s.tmp" &&
	cat "$E2E_DIR/s.tmp" >"$E2E_DIR/secrets.json" && rm "$E2E_DIR/s.tmp"
start_outpostd
octl() { "$BUILD/outpostctl" -s "$OUTPOST_SOCK" "$@"; }

# 1. show prints the running file.
octl config show | cmp -s - "$OUTPOST_CONF" || fail "config show differs from the file"

# 2. A bad file: refused with each error, nothing touched.
jq '.routes[0].template = "nope" | .mqtt.hots = 1' "$OUTPOST_CONF" >"$E2E_DIR/bad.json"
before=$(sha256sum <"$OUTPOST_CONF")
for sub in check push; do
	out=$(octl config "$sub" "$E2E_DIR/bad.json" 2>&1)
	rc=$?
	[ "$rc" = 1 ] || fail "config $sub of a bad file exited $rc: $out"
	for want in 'bad.json: \$.routes\[0\].template: unknown template "nope"' \
		'bad.json: \$.mqtt.hots: unknown key' 'running configuration is untouched'; do
		grep -q "$want" <<<"$out" || fail "config $sub: no '$want' in: $out"
	done
done
[ "$(sha256sum <"$OUTPOST_CONF")" = "$before" ] || fail "a refused push changed the file"
[ ! -e "$OUTPOST_CONF.prev" ] || fail "a refused push left a .prev"
publish -n 5 --kind payment --id-prefix push-a
wait_sent 5 20 || fail "the running config stopped working after a refused push"

# 3. A good file, checked then pushed: applied without a restart.
jq '.routes[0].topic = "plant/+/payments/#"' "$OUTPOST_CONF" >"$E2E_DIR/good.json"
out=$(octl config check "$E2E_DIR/good.json") || fail "check of a good file: $out"
grep -q "valid on the gateway" <<<"$out" || fail "check: $out"
[ "$(sha256sum <"$OUTPOST_CONF")" = "$before" ] || fail "check changed the file"
cp "$OUTPOST_CONF" "$E2E_DIR/running.json"
out=$(octl config push "$E2E_DIR/good.json") || fail "push of a good file: $out"
grep -q "applied" <<<"$out" || fail "push: $out"
cmp -s "$OUTPOST_CONF" "$E2E_DIR/good.json" || fail "the pushed file is not in place"
cmp -s "$OUTPOST_CONF.prev" "$E2E_DIR/running.json" || fail "the previous file was not kept"
wait_for 'grep -q "reload: 3 routes" "$E2E_DIR/outpostd.log"' 10 || fail "push not applied"
sleep 0.3
publish -n 5 -t plant/7/payments/cash --kind payment --id-prefix push-b
wait_sent 10 20 || fail "the pushed route does not deliver"
kill -0 "$OUTPOSTD_PID" || fail "outpostd is gone after a push"

# 4. A push cut after two of its chunks (a big file: 40 KB of spaces is
# still JSON), then run again: it resumes at byte 6144.
jq '.routes[0].topic = "site/+/payments/#"' "$OUTPOST_CONF" >"$E2E_DIR/big.json"
printf '%40000s\n' '' >>"$E2E_DIR/big.json"
sha=$(sha256sum "$E2E_DIR/big.json" | cut -d' ' -f1)
size=$(stat -c %s "$E2E_DIR/big.json")
c0=$(head -c 3072 "$E2E_DIR/big.json" | base64 -w0)
c1=$(tail -c +3073 "$E2E_DIR/big.json" | head -c 3072 | base64 -w0)
printf '{"cmd":"config.push.begin","size":%s,"sha256":"%s"}\n{"cmd":"config.push.chunk","sha256":"%s","offset":0,"data":"%s"}\n{"cmd":"config.push.chunk","sha256":"%s","offset":3072,"data":"%s"}\n' \
	"$size" "$sha" "$sha" "$c0" "$sha" "$c1" |
	socat -t 2 - "UNIX-CONNECT:$OUTPOST_SOCK" >"$E2E_DIR/cut.out"
[ "$(jq -s '[.[].offset] | join(",")' "$E2E_DIR/cut.out")" = '"0,3072,6144"' ] ||
	fail "cut push: $(cat "$E2E_DIR/cut.out")"
out=$(octl config push "$E2E_DIR/big.json" 2>&1) || fail "resumed push: $out"
grep -q "resuming an earlier push at byte 6144 of $size" <<<"$out" || fail "not resumed: $out"
cmp -s "$OUTPOST_CONF" "$E2E_DIR/big.json" || fail "the resumed file is not whole"
# A wrong chunk offset is refused without breaking the transfer state.
printf '{"cmd":"config.push.begin","size":%s,"sha256":"%s"}\n{"cmd":"config.push.chunk","sha256":"%s","offset":99,"data":"e30="}\n' \
	"$size" "$sha" "$sha" | socat -t 2 - "UNIX-CONNECT:$OUTPOST_SOCK" >"$E2E_DIR/bad.out"
grep -q '"expected the chunk at offset 0"' "$E2E_DIR/bad.out" || fail "bad offset: $(cat "$E2E_DIR/bad.out")"

# 5. The same over the broker: a check, signed.
echo "$KEY" >"$E2E_DIR/cmd.key" && chmod 600 "$E2E_DIR/cmd.key"
out=$("$BUILD/outpostctl" --mqtt "127.0.0.1:$BROKER_PORT" --gateway e2e \
	--key-file "$E2E_DIR/cmd.key" config check "$E2E_DIR/bad.json" 2>&1)
[ $? = 1 ] && grep -q 'unknown template "nope"' <<<"$out" || fail "check over mqtt: $out"
grep -q "audit: mqtt .*: config.push.commit: ok" "$E2E_DIR/outpostd.log" ||
	fail "the mqtt check was not audited"
# 5b. A file that parses but cannot start its parts (its secrets file may
# not be read: mode 0644): written, tried, and rolled back to the previous.
cp "$OUTPOST_CONF" "$E2E_DIR/before-rollback.json"
echo '{"x": {"username": "u", "password": "p"}}' >"$E2E_DIR/open-secrets.json"
chmod 644 "$E2E_DIR/open-secrets.json"
jq --arg f "$E2E_DIR/open-secrets.json" '.secrets_file = $f' "$OUTPOST_CONF" >"$E2E_DIR/nostart.json"
out=$(octl config push "$E2E_DIR/nostart.json" 2>&1) && fail "a config that cannot start was applied"
grep -q "did not start .*rolled back to the previous one" <<<"$out" || fail "no rollback: $out"
cmp -s "$OUTPOST_CONF" "$E2E_DIR/before-rollback.json" || fail "the previous file is not back"
publish -n 2 --kind payment --id-prefix push-c
wait_sent 12 20 || fail "not sending after the rollback"

# 6. A fleet key: from now on only signed files. Pushing the key itself
# (an unsigned push while none is set), then: unsigned refused, a
# signature of another file refused, the right one applied.
openssl ecparam -name prime256v1 -genkey -noout -out "$E2E_DIR/fleet.key" 2>/dev/null &&
	openssl ec -in "$E2E_DIR/fleet.key" -pubout -out "$E2E_DIR/fleet.pub" 2>/dev/null ||
	fail "openssl could not make a P-256 key"
jq --arg k "$E2E_DIR/nope.pub" '.control.fleet_key = $k' "$OUTPOST_CONF" >"$E2E_DIR/badkey.json"
out=$(octl config push "$E2E_DIR/badkey.json" 2>&1) && fail "a fleet key that cannot be read was taken"
grep -q "fleet_key: .*not a readable PEM public key" <<<"$out" || fail "bad fleet key: $out"
jq --arg k "$E2E_DIR/fleet.pub" '.control.fleet_key = $k' "$OUTPOST_CONF" >"$E2E_DIR/fleet.json"
octl config push "$E2E_DIR/fleet.json" >/dev/null || fail "pushing the fleet key failed"
jq '.sender.max_inflight = 6' "$E2E_DIR/fleet.json" >"$E2E_DIR/signed.json"
out=$(octl config push "$E2E_DIR/signed.json" 2>&1) && fail "an unsigned file was applied"
grep -q "takes signed configs only" <<<"$out" || fail "unsigned: $out"
openssl dgst -sha256 -sign "$E2E_DIR/fleet.key" -out "$E2E_DIR/other.sig" "$E2E_DIR/fleet.json"
out=$(octl config push "$E2E_DIR/signed.json" --sig "$E2E_DIR/other.sig" 2>&1) &&
	fail "a signature of another file was taken"
grep -q "signature does not match" <<<"$out" || fail "wrong signature: $out"
cmp -s "$OUTPOST_CONF" "$E2E_DIR/fleet.json" || fail "a refused signed push changed the file"
openssl dgst -sha256 -sign "$E2E_DIR/fleet.key" -out "$E2E_DIR/signed.json.sig" "$E2E_DIR/signed.json"
out=$(octl config check "$E2E_DIR/signed.json") || fail "check of a signed file: $out"
grep -q "signature valid" <<<"$out" || fail "check did not verify the signature: $out"
octl config push "$E2E_DIR/signed.json" >/dev/null || fail "a signed file (FILE.sig next to it) was refused"
cmp -s "$OUTPOST_CONF" "$E2E_DIR/signed.json" || fail "the signed file is not in place"

stop_outpostd || fail "outpostd exited non-zero"
pass "show; bad file refused by path, untouched; good push applied, .prev kept; cut push resumed at 6144; check over mqtt; fleet key: unsigned and mis-signed refused, signed applied"
