#!/bin/bash
# Disk full: the store lives on a 24 MiB tmpfs. While 3,000 events stream in,
# a filler file takes the disk's free space: outpostd pauses ingest (status
# says "disk full"), stays up, and acknowledges nothing it did not commit -
# the broker keeps the rest. The filler goes, ingest resumes by itself, and
# the checker finds nothing lost. Needs root (mount); skipped otherwise.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
E2E_NAME=diskfull
e2e_setup diskfull
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: diskfull: needs root to mount a small tmpfs"
	exit 0
fi
DISK="$E2E_DIR/disk"
mkdir -p "$DISK"
mount -t tmpfs -o size=24m outpost-diskfull "$DISK" || fail "cannot mount a tmpfs on $DISK"
trap 'e2e_cleanup; umount "$DISK" 2>/dev/null' EXIT

start_broker
start_sim
write_config ".store.path = \"$DISK/store\"" '.store.max_size_mb = 256'
start_outpostd
publish -n 3000 -r 500 --kind mixed --id-prefix d --log "$E2E_DIR/pub.log" &
PUB=$!
wait_for '[ "$(status_num acked)" -ge 300 ]' 10 || fail "ingest did not start"
[ "$(ctl status | jq -r .mqtt.ingest)" = running ] || fail "ingest paused before the disk filled up"
# Leave about 2 MiB: under the 4 MiB disk reserve plus the ingest reserve.
free_kb=$(df -k --output=avail "$DISK" | tail -1)
dd if=/dev/zero of="$DISK/filler" bs=1k count=$((free_kb - 2048)) status=none 2>/dev/null
wait_for '[ "$(ctl status | jq -r .mqtt.ingest)" = paused ]' 15 ||
	fail "ingest did not pause on a full disk: $(ctl status | jq -c .mqtt)"
reason=$(ctl status | jq -r .mqtt.ingest_reason)
[[ "$reason" == *"disk full"* ]] || fail "pause reason does not say disk full: $reason"
acked=$(status_num acked)
sleep 3
kill -0 "$OUTPOSTD_PID" || fail "outpostd died on a full disk"
[ "$(status_num acked)" -eq "$acked" ] || fail "events were acknowledged while the disk was full"
echo "diskfull: paused after $acked events ($reason)"
wait $PUB || fail "publisher failed"

rm -f "$DISK/filler"
wait_for '[ "$(ctl status | jq -r .mqtt.ingest)" = running ]' 15 || fail "ingest did not resume after space came back"
wait_for '[ "$(outbox_count sent)" -ge 3000 ]' 60 || fail "only $(outbox_count sent) of 3000 sent after space came back"
stop_outpostd || fail "outpostd did not stop cleanly"
"$BUILD/outpost-check" --strict --pub-log "$E2E_DIR/pub.log" --sim-record "$SIM_RECORD" \
	--store "$DISK/store" || fail "checker failed"
pass "paused on a full disk after $acked events, resumed when space came back, 0 lost"
