/*
 * fuzz_event.c - MQTT events through the real router (firmware/router.c)
 * into a real LMDB store, under the fixture's configuration (fuzz_fw.h).
 *
 * Input: byte 0 is flags (low 4 bits all set: commit the batch, else abort
 * it; a commit costs a store reset, ten times an event, hence rarely), then
 * up to MAX_EVENTS events separated by SEP; an event is one byte choosing its
 * topic from topics[] and its payload. The events of one input share one
 * batch, as a burst from the broker does, so an id repeated within an input
 * reaches the duplicate path. An aborted batch leaves the store as it was; a
 * committed one is counted back and the store is emptied again, so every
 * input runs against the same empty store and a crash replays alone.
 *
 * Oracles besides the sanitizers: every event leaves at least one record
 * (router.c: "Nothing is dropped"); a healthy store never fails the batch;
 * a commit stores exactly the records the router counted.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/fw.h"
#include "hal/err.h"
#include "store/outbox.h"
#include "store/store.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_fw.h"

#define MAX_EVENTS 16
#define COMMIT 0x0f
#define SEP "\n--\n"
#define SEP_LEN (sizeof(SEP) - 1)

#define LONG_TOPIC "site/1/alerts/" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

/* Topics as a broker would deliver them: each route's, two routes at once,
 * none, and the odd shapes a topic name may legally have; and one it may
 * not have. New ones go at the end: seeds pick topics by index. */
static const char *const topics[] = {
	"site/1/payments/card",   /* loadgen's payment */
	"site/1/tickets/issued",  /* loadgen's ticket */
	"site/1/alerts/door",     /* loadgen's alert */
	"site/7/alerts/critical", /* alerts and oncall */
	"site/2/payments",        /* "#" matching the parent level */
	"legacy/panel/3",         /* a pending template */
	"site/1/unknown",         /* no route */
	"site//tickets//",        /* empty levels */
	"$SYS/site/1/alerts/x",   /* '$' topics never match a wildcard */
	"site/1/alerts/caf\xc3\xa9", /* UTF-8 */
	"",
	LONG_TOPIC,
	"site/+/payments/#",      /* not a topic name: matches nothing */
};
#define N_TOPICS (sizeof(topics) / sizeof(topics[0]))

static uint64_t records_counted(const struct fw *fw)
{
	return fw->n.rejected + fw->n.queued + fw->n.duplicates;
}

/* One event, its payload in a buffer of its own size so that ASan sees a
 * read past its end. */
static void one_event(struct fw *fw, const uint8_t *p, size_t len)
{
	const char *topic = topics[len ? p[0] % N_TOPICS : 0];
	size_t plen = len ? len - 1 : 0;
	char *payload = malloc(plen ? plen : 1);

	FUZZ_ASSERT(payload, "out of memory");
	if (plen)
		memcpy(payload, p + 1, plen);
	fw_router_message(fw, topic, payload, plen);
	free(payload);
	FUZZ_ASSERT(fw->router.batch_err == ERR_OK, "the batch failed: %s",
		    hal_strerror(fw->router.batch_err));
	FUZZ_ASSERT(fw->router.event_seq != 0, "an event on %.40s left no record", topic);
}

static void commit_and_count(struct fw *fw, uint64_t records)
{
	uint64_t counts[STORE__STATES] = {0};
	struct store_txn *t;
	int rc;

	rc = fw_router_batch_end(fw, true);
	FUZZ_ASSERT(rc == ERR_OK && !fw->stopping, "commit: %s", hal_strerror(rc));
	rc = store_begin(fw->store, STORE_RDONLY, &t);
	FUZZ_ASSERT(rc == ERR_OK, "read txn: %s", hal_strerror(rc));
	rc = store_outbox_counts(t, counts);
	store_abort(t);
	FUZZ_ASSERT(rc == ERR_OK, "counts: %s", hal_strerror(rc));
	FUZZ_ASSERT(counts[0] == records, "store holds %llu records, router counted %llu",
		    (unsigned long long)counts[0], (unsigned long long)records);
	fuzz_fw_store_reset(fw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw *fw = fuzz_fw_get();
	const uint8_t *p, *end = data + size, *sep;
	uint64_t before = records_counted(fw);
	bool commit;
	unsigned n = 0;

	if (size == 0)
		return 0;
	commit = (data[0] & COMMIT) == COMMIT;
	for (p = data + 1; p <= end && n < MAX_EVENTS; p = sep + SEP_LEN, n++) {
		sep = memmem(p, (size_t)(end - p), SEP, SEP_LEN);
		if (!sep)
			sep = end;
		one_event(fw, p, (size_t)(sep - p));
		if (sep == end)
			break;
	}
	if (commit)
		commit_and_count(fw, records_counted(fw) - before);
	else
		FUZZ_ASSERT(fw_router_batch_end(fw, false) == ERR_OK, "abort failed");
	return 0;
}
