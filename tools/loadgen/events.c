/*
 * events.c - the event payloads outpost-pub sends.
 *
 * Everything varies with the event number i and nothing else, so that a run
 * can be repeated and a checker can recompute what event i contained. Phone
 * numbers stay valid E.164 numbers in reserved-looking ranges (+1 415 555
 * 0100..0199, +49 170 12345xx) but are written in several ways, with spaces,
 * dashes and brackets, so the daemon's normalisation is exercised.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tools/loadgen/pub.h"

/* The pad of the over-64-KiB bad event: over the 64 KiB that outpostd
 * accepts, with room for the rest of the event within PUB_PAYLOAD_MAX. */
#define HUGE_PAD (66 * 1024)
#define BINARY_LEN 256

/* A bounded appender: writes past cap are dropped and remembered. */
struct sb {
	char *p;
	size_t len, cap;
	bool over;
};

static void sb_add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->over = true;
		return;
	}
	b->len += (size_t)n;
}

static void sb_pad(struct sb *b, size_t n)
{
	if (n == 0 || b->over)
		return;
	if (b->len + n + 10 >= b->cap) {
		b->over = true;
		return;
	}
	sb_add(b, ",\"pad\":\"");
	memset(b->p + b->len, 'x', n);
	b->len += n;
	sb_add(b, "\"");
}

/* What a bad event changes in an otherwise normal one. */
struct spec {
	const char *id;    /* NULL: no "id" member */
	const char *phone; /* NULL: the i-th valid number */
	const char *text;  /* NULL: the normal name/ticket/panel (JSON-escaped) */
	size_t pad;
};

static const char *const names[] = {"Ana", "Bruno", "Chlo\u00e9", "Dmitri",
				    "Eun-ji", "Fatima", "G\u00fcnther", "Hiroshi"};
static const char *const panels[] = {"North door", "Loading bay", "Server room"};
static const char *const levels[] = {"alarm", "warning", "alarm", "info"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void us_phone(char *buf, size_t len, uint64_t i)
{
	unsigned n = 100 + (unsigned)(i % 100);

	switch (i % 3) {
	case 0: snprintf(buf, len, "+1 (415) 555-%04u", n); break;
	case 1: snprintf(buf, len, "+1415555%04u", n); break;
	default: snprintf(buf, len, "+1 415-555-%04u", n); break;
	}
}

static void de_phone(char *buf, size_t len, uint64_t i)
{
	unsigned n = (unsigned)(i % 100);

	switch (i % 3) {
	case 0: snprintf(buf, len, "+49 170 12345%02u", n); break;
	case 1: snprintf(buf, len, "+4917012345%02u", n); break;
	default: snprintf(buf, len, "+49-170-12345%02u", n); break;
	}
}

static long long wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void open_event(struct sb *b, const struct spec *s)
{
	sb_add(b, "{");
	if (s->id)
		sb_add(b, "\"id\":\"%s\",", s->id);
}

static void close_event(struct sb *b, const struct spec *s)
{
	sb_pad(b, s->pad);
	sb_add(b, ",\"pub_us\":%lld}", wall_us());
}

static void payment(struct sb *b, uint64_t i, const struct spec *s)
{
	char phone[32];
	uint64_t cents = 100 + (i * 137) % 99900;

	de_phone(phone, sizeof(phone), i);
	open_event(b, s);
	sb_add(b, "\"customer\":{\"name\":\"%s\",\"phone\":\"%s\"},\"amount\":\"%llu.%02llu\","
		  "\"currency\":\"%s\"",
	       s->text ? s->text : names[i % N_OF(names)], s->phone ? s->phone : phone,
	       (unsigned long long)(cents / 100), (unsigned long long)(cents % 100),
	       i % 4 == 3 ? "USD" : "EUR");
	close_event(b, s);
}

static void ticket(struct sb *b, uint64_t i, const struct spec *s)
{
	char phone[32], tk[16];

	us_phone(phone, sizeof(phone), i);
	snprintf(tk, sizeof(tk), "%c-%u", 'A' + (int)(i % 6), (unsigned)(i % 100));
	open_event(b, s);
	sb_add(b, "\"ticket\":\"%s\",\"counter\":\"%u\",\"phone\":\"%s\"", s->text ? s->text : tk,
	       (unsigned)(i % 9) + 1, s->phone ? s->phone : phone);
	close_event(b, s);
}

static void alert(struct sb *b, uint64_t i, const struct spec *s)
{
	char us[32];

	us_phone(us, sizeof(us), i);
	open_event(b, s);
	sb_add(b, "\"panel\":\"%s\",\"zone\":\"%u\",\"level\":\"%s\",\"notify\":[",
	       s->text ? s->text : panels[i % N_OF(panels)], (unsigned)(i % 8) + 1,
	       levels[i % N_OF(levels)]);
	/* One recipient, so N events make exactly N messages; fan-out to a
	 * list is exercised by the end-to-end tests' own events. */
	sb_add(b, "\"%s\"]", s->phone ? s->phone : us);
	close_event(b, s);
}

/* xorshift64: the same garbage for the same i, every run. */
static void binary(struct sb *b, uint64_t i)
{
	uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
	size_t k;

	for (k = 0; k < BINARY_LEN && b->len < b->cap; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b->p[b->len++] = (char)(k % 64 == 0 ? 0 : x >> 56); /* NULs included */
	}
}

static const char *newline_text(enum pub_kind kind)
{
	return kind == PUB_PAYMENT ? "Ana\\nBob" : kind == PUB_TICKET ? "A-17\\nB-18" : "North\\ndoor";
}

enum pub_kind pub_event_kind(enum pub_kind run_kind, uint64_t i)
{
	/* i = 1 is a payment, as with --start 1 in every other kind */
	return run_kind == PUB_MIXED ? (enum pub_kind)((i + 2) % 3) : run_kind;
}

const char *pub_kind_topic(enum pub_kind kind)
{
	return kind == PUB_PAYMENT ? "site/1/payments/card"
	       : kind == PUB_TICKET ? "site/1/tickets/issued"
				    : "site/1/alerts/door";
}

bool pub_event_build(char *buf, enum pub_kind kind, enum pub_bad bad, const char *prefix,
		     uint64_t i, struct pub_event *ev)
{
	struct sb b = {.p = buf, .cap = PUB_PAYLOAD_MAX};
	struct spec s = {.id = ev->id};

	snprintf(ev->id, sizeof(ev->id), "%s-%llu", bad ? "bad" : prefix, (unsigned long long)i);
	ev->kind = kind;
	if (bad == PUB_BAD_NO_ID)
		s.id = NULL;
	else if (bad == PUB_BAD_PHONE)
		s.phone = "+12";
	else if (bad == PUB_BAD_NEWLINE)
		s.text = newline_text(kind);
	else if (bad == PUB_BAD_HUGE)
		s.pad = HUGE_PAD;
	if (bad == PUB_BAD_JSON)
		sb_add(&b, "{\"id\":\"%s\",\"customer\":{\"name\":\"Ana\",\"phone\":", ev->id);
	else if (bad == PUB_BAD_BINARY)
		binary(&b, i);
	else if (kind == PUB_PAYMENT)
		payment(&b, i, &s);
	else if (kind == PUB_TICKET)
		ticket(&b, i, &s);
	else
		alert(&b, i, &s);
	ev->len = b.len;
	return !b.over;
}

bool pub_event_add_seq(char *buf, struct pub_event *ev, uint64_t seq, const char *source)
{
	char tail[PUB_SOURCE_MAX + 64];
	int n;

	if (ev->len < 2 || buf[ev->len - 1] != '}')
		return false;
	if (source)
		n = snprintf(tail, sizeof(tail), ",\"seq\":%llu,\"source\":\"%.*s\"}",
			     (unsigned long long)seq, PUB_SOURCE_MAX, source);
	else
		n = snprintf(tail, sizeof(tail), ",\"seq\":%llu}", (unsigned long long)seq);
	if (n < 0 || (size_t)n >= sizeof(tail) || ev->len - 1 + (size_t)n > PUB_PAYLOAD_MAX)
		return false;
	/* Over the closing brace of the object. */
	memcpy(buf + ev->len - 1, tail, (size_t)n);
	ev->len += (size_t)n - 1;
	return true;
}
