/*
 * status.c - where a message is, as fetch and list show it: the progression
 * after "sent" that outpost's status polling follows.
 *
 * By default a message is "sent" from the moment it was taken (the sim
 * hands it on at once). --deliver-after-ms N makes it "delivered" N ms after
 * it was created, --read-after-ms M "read" M ms after that. Two magic
 * recipients end badly instead, at the delivery time (at once without
 * --deliver-after-ms): whatsapp:+15005550063 undelivered with 63024,
 * whatsapp:+15005550016 failed with 63016. POST /sim/status forces a
 * message's state and code, which then wins over the timeline.
 *
 * The state is computed when a message is rendered, from its receive time:
 * nothing ticks. Forced states live in a small table under a mutex.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "tools/twilio-sim/sim.h"

#define FORCED_MAX 256

static const struct {
	const char *to, *status;
	int code;
} bad_ends[] = {
	{"whatsapp:+15005550063", "undelivered", 63024},
	{"whatsapp:+15005550016", "failed", 63016},
	{"whatsapp:+15005550077", "failed", 30008}, /* fetched as another message: create.c */
};

static const char *const known[] = {"queued", "sending", "sent", "delivered", "read",
				    "undelivered", "failed"};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char sid[SIM_SID_LEN + 1];
	const char *status; /* one of known[] */
	int code;
	int64_t at_us;
} forced[FORCED_MAX];
static unsigned n_forced;

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool forced_view(const char *sid, struct sim_status *v)
{
	bool found = false;

	pthread_mutex_lock(&mu);
	for (unsigned i = 0; i < n_forced && !found; i++)
		if (strcmp(forced[i].sid, sid) == 0) {
			v->status = forced[i].status;
			v->code = forced[i].code;
			v->updated_us = forced[i].at_us;
			found = true;
		}
	pthread_mutex_unlock(&mu);
	return found;
}

void sim_status_view(const struct sim_config *cfg, const struct sim_msg *m, struct sim_status *v)
{
	int64_t age_ms = (now_us() - m->recv_us) / 1000;
	long deliver = cfg->deliver_after_ms;

	*v = (struct sim_status){.status = "sent", .updated_us = m->recv_us};
	if (forced_view(m->sid, v))
		return;
	for (size_t i = 0; i < sizeof(bad_ends) / sizeof(bad_ends[0]); i++)
		if (m->to && strcmp(m->to, bad_ends[i].to) == 0 && age_ms >= (deliver > 0 ? deliver : 0)) {
			v->status = bad_ends[i].status;
			v->code = bad_ends[i].code;
			v->updated_us = m->recv_us + (deliver > 0 ? deliver : 0) * 1000;
			return;
		}
	if (deliver < 0 || age_ms < deliver)
		return;
	v->status = "delivered";
	v->updated_us = m->recv_us + deliver * 1000;
	if (cfg->read_after_ms >= 0 && age_ms >= deliver + cfg->read_after_ms) {
		v->status = "read";
		v->updated_us += cfg->read_after_ms * 1000;
	}
}

static const char *known_status(const char *s)
{
	for (size_t i = 0; s && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(s, known[i]) == 0)
			return known[i];
	return NULL;
}

static void force(const char *sid, const char *status, int code)
{
	unsigned i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < n_forced && strcmp(forced[i].sid, sid) != 0; i++)
		;
	if (i == n_forced)
		i = n_forced < FORCED_MAX ? n_forced++ : FORCED_MAX - 1; /* the last slot is reused */
	snprintf(forced[i].sid, sizeof(forced[i].sid), "%s", sid);
	forced[i].status = status;
	forced[i].code = code;
	forced[i].at_us = now_us();
	pthread_mutex_unlock(&mu);
}

/* POST /sim/status {"sid":"SM..","status":"read","code":63016}: no auth. */
void sim_force_status(const char *body, struct sim_reply *r)
{
	cJSON *o = cJSON_Parse(body ? body : "");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(o, "sid");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
	const char *st = known_status(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "status")));
	struct sim_buf b = {0};

	if (!cJSON_IsString(sid) || !sim_sid_valid(sid->valuestring, "SM") || !st ||
	    (code && !cJSON_IsNumber(code))) {
		sim_reply_error(r, 400, 21000,
				"/sim/status wants {\"sid\":\"SM<32 hex>\",\"status\":\"<queued|sending|sent|"
				"delivered|read|undelivered|failed>\",\"code\":<number, optional>}");
		cJSON_Delete(o);
		return;
	}
	force(sid->valuestring, st, code ? (int)code->valuedouble : 0);
	sim_buf_str(&b, "{\"sid\":");
	sim_buf_json(&b, sid->valuestring);
	sim_buf_str(&b, ",\"status\":");
	sim_buf_json(&b, st);
	sim_buf_str(&b, "}");
	r->json = sim_buf_take(&b);
	r->status = r->json ? 200 : 500;
	cJSON_Delete(o);
}
