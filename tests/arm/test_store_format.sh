#!/bin/bash
# A store written by one build, opened by another (docs/INSTALL.md, "32-bit
# ARM"). lmdb's file format follows the word size (its page header and meta
# page hold size_t fields): a store written by the arm64 outpostd opens on
# x86_64 (both 64-bit little-endian) with every record as it was; the armhf
# outpostd refuses it, saying why, and leaves the files untouched - and a
# store written on armhf is refused by the 64-bit build the same way.
#   tests/arm/test_store_format.sh TRIPLET...   (needs the native build too)
cd "$(dirname "$0")/../.." || exit 1
. tests/arm/emu.sh
want=" $* "
A64=aarch64-linux-gnu A32=arm-linux-gnueabihf
[[ $want == *" $A64 "* ]] || { echo "store format: needs $A64"; exit 0; }
BUILD=$(emu_dir "$A64") || exit 1
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
e2e_setup store_format
B32=""
[[ $want == *" $A32 "* ]] && { B32=$(emu_dir "$A32") || exit 1; }
NATIVE=build

start_broker
start_sim
write_config
base_conf=$OUTPOST_CONF

# store_conf DIR: the config with the store (and its vault key) in DIR.
store_conf() {
	jq --arg s "$1" '.store.path = $s' "$base_conf" >"$1.json" && OUTPOST_CONF=$1.json
}

# write_store BUILD DIR N: N events sent through the outpostd of BUILD into DIR.
write_store() {
	local b=$1
	store_conf "$2"
	write_secrets
	BUILD=$b start_outpostd
	mpub_n "$3"
	BUILD=$b wait_sent "$3" 60 || fail "$b: only $(BUILD=$b outbox_count sent) of $3 sent"
	stop_outpostd || fail "$b: outpostd did not stop cleanly"
}
mpub_n() { "$NATIVE/outpost-pub" -h 127.0.0.1 -p "$BROKER_PORT" --quiet -n "$1" --kind mixed --id-prefix "fmt$RANDOM-"; }

# opens BUILD DIR N: the outpostd of BUILD opens DIR and counts N sent.
opens() {
	local b=$1
	store_conf "$2"
	BUILD=$b start_outpostd
	[ "$(BUILD=$b outbox_count sent)" = "$3" ] ||
		fail "$b: the store of $2 shows $(BUILD=$b outbox_count sent) sent, not $3"
	stop_outpostd || fail "$b: outpostd did not stop cleanly"
}

# refuses BUILD DIR BITS: the outpostd of BUILD exits at once, naming the
# word size the store was written with, and changes nothing in DIR.
refuses() {
	local b=$1 dir=$2 before after rc log=$E2E_DIR/refuse.log
	store_conf "$dir"
	before=$(cd "$dir" && sha256sum data.mdb)
	rc=0
	timeout 60 "$b/outpostd" -c "$OUTPOST_CONF" >"$log" 2>&1 || rc=$?
	case $rc in 0 | 124) fail "$b: outpostd exited $rc on a store from another word size" ;; esac
	grep -q "written by a $3-bit build" "$log" || fail "$b: no clear refusal: $(tail -3 "$log")"
	after=$(cd "$dir" && sha256sum data.mdb)
	[ "$before" = "$after" ] || fail "$b: the refused store's data.mdb changed"
	! compgen -G "$dir/*unborn*" >/dev/null || fail "$b: the refused store was moved aside"
	echo "  $(grep -m1 "written by" "$log")"
}

write_store "$BUILD" "$E2E_DIR/a64" 20
cp -a "$E2E_DIR/a64" "$E2E_DIR/a64-on-native"
opens "$NATIVE" "$E2E_DIR/a64-on-native" 20
pass "a store written by the $A64 outpostd opens on $(uname -m) with its 20 sent records"
if [ -n "$B32" ]; then
	cp -a "$E2E_DIR/a64" "$E2E_DIR/a64-on-a32"
	refuses "$B32" "$E2E_DIR/a64-on-a32" 64
	write_store "$B32" "$E2E_DIR/a32" 5
	cp -a "$E2E_DIR/a32" "$E2E_DIR/a32-on-native"
	refuses "$NATIVE" "$E2E_DIR/a32-on-native" 32
	opens "$B32" "$E2E_DIR/a32" 5
	pass "$A32 refuses the 64-bit store and x86_64 the 32-bit one, each saying why, files untouched"
fi
