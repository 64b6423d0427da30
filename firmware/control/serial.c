/*
 * control/serial.c - the control protocol on a serial console (control.serial):
 * a technician's laptop on the gateway's serial port, outpostctl --serial.
 *
 * A serial line loses and mangles bytes, so requests and replies travel in
 * checksummed frames (net/frame.h). A damaged frame is not answered: the
 * client retransmits. A request carries an "id" that the reply echoes; the
 * last REPLAY_SLOTS replies are kept by id, so a retransmission whose reply
 * was lost gets the same reply again instead of running the command twice.
 * A slot matches on the id and on the request's length and CRC: an id that
 * comes back with another request is a new request.
 *
 * The line comes and goes (a USB adapter pulled out, a pty whose far end
 * closed): the daemon logs it once, closes the port and tries to open it
 * again every second, for as long as it runs. Output is written without
 * blocking from a bounded buffer; a reply that does not fit is dropped and
 * counted (the client asks again).
 *
 * With control.serial.pin_hash set, the line serves nothing but `auth`
 * until a technician gives the PIN ({"cmd":"auth","pin":"…"}); from then on
 * the line is an operator's (unmasked data may be asked) until it has been
 * idle for AUTH_IDLE_MS or the device goes away. Wrong PINs are audited;
 * after PIN_TRIES of them in a row the line takes no PIN for PIN_LOCK_MS.
 * Without a pin_hash nobody on the line is an operator. The caller is
 * "serial" and the device path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/pin.h"
#include "config/secrets.h"
#include "hal/clock.h"
#include "firmware/fw.h"
#include "hal/err.h"
#include "hal/log.h"
#include "hal/tty.h"
#include "net/frame.h"

#define RETRY_MS 1000
/* A client retransmits a few times within seconds; 16 covers a few
 * clients' worth of recent requests on one line. */
#define REPLAY_SLOTS 16
/* An id is a number or a short string; printed as JSON it fits here. */
#define ID_MAX 32
#define ID_JSON_MAX (ID_MAX * 6 + 3)
/* Two full replies: one being written and one waiting. */
#define OUT_MAX ((size_t)2 * (NET_FRAME_MAX + NET_FRAME_OVERHEAD))
/* Per loop round, so that a flood on the line does not starve the rest. */
#define READ_PER_ROUND 65536
#define NOISE_LOG_MS 10000
#define AUTH_IDLE_MS (15 * 60 * 1000)
#define PIN_TRIES 5
#define PIN_LOCK_MS (60 * 1000)

struct replay {
	char id[ID_JSON_MAX + 1]; /* "" = free slot */
	uint32_t req_crc;
	size_t req_len;
	char *frame;
	size_t frame_len;
};

struct fw_serial {
	struct fw *fw;
	struct hal_fd w; /* fd -1 while the line is down */
	struct hal_timer retry;
	char *device;
	unsigned baud;
	struct net_frame_dec dec;
	char *out;
	size_t out_len, out_off;
	struct fw_caller from;
	struct replay cache[REPLAY_SLOTS];
	unsigned cache_next;
	uint64_t opens, replayed, dropped;
	uint64_t noise_seen; /* bad frames + garbage bytes at the last log */
	bool down_logged;
	struct hal_ratelimit noise_rl, drop_rl;
	uint64_t authed_ms;     /* last command of the PIN session; 0: none */
	unsigned pin_failures;  /* wrong PINs in a row */
	uint64_t locked_until_ms;
};

static void out_clear(struct fw_serial *s)
{
	free(s->out);
	s->out = NULL;
	s->out_len = s->out_off = 0;
}

/* Bytes of a lost line are worth nothing; the counters stay. */
static void dec_reset(struct net_frame_dec *d)
{
	struct net_frame_dec keep = {.frames = d->frames, .bad_frames = d->bad_frames,
				     .garbage_bytes = d->garbage_bytes};

	net_frame_dec_free(d);
	*d = keep;
}

static void line_close(struct fw_serial *s)
{
	if (s->w.fd < 0)
		return;
	hal_fd_unwatch(s->fw->loop, &s->w);
	close(s->w.fd);
	s->w.fd = -1;
	out_clear(s);
	dec_reset(&s->dec);
	/* Whoever plugs in next starts without the last one's PIN session. */
	s->authed_ms = 0;
	s->from.operator = false;
}

static void line_down(struct fw_serial *s, const char *why)
{
	line_close(s);
	if (!s->down_logged)
		log_warn("serial: lost %s (%s); trying to reopen it every second", s->device, why);
	s->down_logged = true;
	hal_timer_set(s->fw->loop, &s->retry, RETRY_MS);
}

static void queue(struct fw_serial *s, const char *frame, size_t len)
{
	size_t live = s->out_len - s->out_off;
	char *p;

	if (s->w.fd < 0)
		return;
	if (live + len > OUT_MAX) {
		s->dropped++;
		if (hal_ratelimit_ok(&s->drop_rl, 1, NOISE_LOG_MS))
			log_warn("serial: %s: output full, a reply of %zu bytes dropped (%llu so far)",
				 s->device, len, (unsigned long long)s->dropped);
		return;
	}
	if (s->out_off) {
		memmove(s->out, s->out + s->out_off, live);
		s->out_len = live;
		s->out_off = 0;
	}
	p = realloc(s->out, live + len);
	if (!p) {
		s->dropped++;
		return;
	}
	memcpy(p + live, frame, len);
	s->out = p;
	s->out_len = live + len;
}

static void flush(struct fw_serial *s)
{
	ssize_t n;

	while (s->out_off < s->out_len) {
		n = write(s->w.fd, s->out + s->out_off, s->out_len - s->out_off);
		if (n > 0) {
			s->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		line_down(s, n < 0 ? strerror(errno) : "write returned 0");
		return;
	}
	out_clear(s);
}

/* {"id":<id>,...rest of reply}: the reply is a JSON object from
 * fw_control_dispatch() or fw_control_error(). Takes reply. */
static char *with_id(char *reply, const char *id)
{
	size_t rl = strlen(reply), il = strlen(id), n;
	char *r;

	if (!id[0] || rl < 2 || reply[0] != '{')
		return reply;
	r = malloc(rl + il + 8);
	if (r) {
		n = 6 + il;
		memcpy(r, "{\"id\":", 6);
		memcpy(r + 6, id, il);
		if (reply[1] != '}')
			r[n++] = ',';
		memcpy(r + n, reply + 1, rl); /* with the NUL */
	}
	free(reply);
	return r;
}

/* Frames reply (taken); a reply over the frame limit becomes an error. */
static char *frame_reply(char *reply, const char *id, size_t *flen)
{
	size_t len;
	char *f;

	reply = reply ? with_id(reply, id) : NULL;
	if (!reply)
		return NULL;
	len = strlen(reply);
	if (len > NET_FRAME_MAX || memchr(reply, '\n', len)) {
		free(reply);
		reply = with_id(fw_control_error("reply does not fit in a frame"), id);
		if (!reply)
			return NULL;
		len = strlen(reply);
	}
	f = malloc(len + NET_FRAME_OVERHEAD);
	if (f && net_frame_encode(reply, len, f, len + NET_FRAME_OVERHEAD, flen) != ERR_OK) {
		free(f);
		f = NULL;
	}
	free(reply);
	return f;
}

/* The request's id as JSON text into id ("" without one); false for an id
 * of a kind we do not echo. */
static bool request_id(const cJSON *req, char *id)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(req, "id");
	char *s = NULL;
	bool ok = true;

	id[0] = '\0';
	if (it && ((cJSON_IsString(it) && strlen(it->valuestring) <= ID_MAX) || cJSON_IsNumber(it)))
		s = cJSON_PrintUnformatted(it);
	else if (it)
		ok = false;
	if (s && strlen(s) <= ID_JSON_MAX)
		memcpy(id, s, strlen(s) + 1);
	free(s);
	return ok;
}

static struct replay *replay_find(struct fw_serial *s, const char *id, uint32_t crc, size_t len)
{
	for (unsigned i = 0; i < REPLAY_SLOTS; i++) {
		struct replay *r = &s->cache[i];

		if (r->id[0] && strcmp(r->id, id) == 0 && r->req_crc == crc && r->req_len == len)
			return r;
	}
	return NULL;
}

/* Keeps a copy of the reply frame, in the oldest slot. */
static void replay_keep(struct fw_serial *s, const char *id, uint32_t crc, size_t len,
			const char *frame, size_t flen)
{
	struct replay *r = &s->cache[s->cache_next];
	char *copy = malloc(flen);

	if (!copy)
		return;
	memcpy(copy, frame, flen);
	free(r->frame);
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->req_crc = crc;
	r->req_len = len;
	r->frame = copy;
	r->frame_len = flen;
	s->cache_next = (s->cache_next + 1) % REPLAY_SLOTS;
}

static char *auth(struct fw_serial *s, const cJSON *req, const char *spec)
{
	const cJSON *pin = cJSON_GetObjectItemCaseSensitive(req, "pin");
	uint64_t now = hal_now_ms();

	if (!spec)
		return fw_control_error("this line asks no PIN (control.serial.pin_hash is unset)");
	if (now < s->locked_until_ms) {
		log_info("audit: serial %s: auth: refused: locked after %d wrong PINs", s->device,
			 PIN_TRIES);
		return fw_control_error("too many wrong PINs: try again in a minute");
	}
	if (!cJSON_IsString(pin) || !cfg_pin_verify(pin->valuestring, spec)) {
		s->authed_ms = 0;
		s->from.operator = false;
		if (++s->pin_failures >= PIN_TRIES) {
			s->locked_until_ms = now + PIN_LOCK_MS;
			s->pin_failures = 0;
		}
		log_warn("audit: serial %s: auth: refused: wrong PIN", s->device);
		return fw_control_error("wrong PIN");
	}
	s->pin_failures = 0;
	s->authed_ms = now;
	s->from.operator = true;
	log_info("audit: serial %s: auth: ok (technician PIN)", s->device);
	return strdup("{\"ok\":true,\"operator\":true}");
}

/* The PIN gate, then the command. */
static char *gated(struct fw_serial *s, const cJSON *req)
{
	const char *spec = s->fw->cfg->control.serial.pin_hash;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	char *reply;

	if (s->authed_ms && hal_now_ms() - s->authed_ms > AUTH_IDLE_MS) {
		s->authed_ms = 0;
		s->from.operator = false;
	}
	if (cJSON_IsString(cmd) && strcmp(cmd->valuestring, "auth") == 0)
		reply = auth(s, req, spec);
	else if (spec && !s->authed_ms)
		reply = fw_control_error("PIN required on this line (outpostctl --serial DEV --pin)");
	else {
		if (s->authed_ms)
			s->authed_ms = hal_now_ms();
		reply = fw_control_run(s->fw, &s->from, req);
	}
	return reply;
}

static void handle_request(struct fw_serial *s, const char *payload, size_t len)
{
	uint32_t crc = net_frame_crc32(payload, len);
	char id[ID_JSON_MAX + 1] = "", *reply = NULL, *f;
	cJSON *req = NULL;
	struct replay *r;
	bool replayed = false;
	size_t flen = 0;

	if (strlen(payload) != len)
		reply = fw_control_error("request holds a NUL byte");
	else if (!request_id(req = cJSON_Parse(payload), id))
		reply = fw_control_error("\"id\" must be a number or a string of at most 32 bytes");
	else if (id[0] && (r = replay_find(s, id, crc, len)) != NULL) {
		s->replayed++;
		log_debug("serial: %s: request %s again, same reply", s->device, id);
		queue(s, r->frame, r->frame_len);
		replayed = true;
	} else
		reply = gated(s, req);
	cfg_json_wipe(req); /* a PIN or a secret */
	cJSON_Delete(req);
	if (replayed)
		return;
	f = frame_reply(reply, id, &flen);
	if (!f)
		return; /* out of memory: the client asks again */
	queue(s, f, flen);
	if (id[0])
		replay_keep(s, id, crc, len, f, flen);
	free(f);
}

static void log_noise(struct fw_serial *s)
{
	uint64_t seen = s->dec.bad_frames + s->dec.garbage_bytes;

	if (seen == s->noise_seen || !hal_ratelimit_ok(&s->noise_rl, 1, NOISE_LOG_MS))
		return;
	s->noise_seen = seen;
	log_info("serial: %s: noise on the line: %llu bad frames, %llu bytes of garbage so far",
		 s->device, (unsigned long long)s->dec.bad_frames,
		 (unsigned long long)s->dec.garbage_bytes);
}

/* Feeds what was read to the decoder and answers each good frame. */
static void take_bytes(struct fw_serial *s, const char *p, size_t n)
{
	size_t taken;
	char *payload;
	size_t plen;

	while (n > 0) {
		if (net_frame_dec_feed(&s->dec, p, n, &taken) != ERR_OK) {
			line_down(s, "out of memory");
			return;
		}
		p += taken;
		n -= taken;
		while (s->w.fd >= 0 && net_frame_dec_next(&s->dec, &payload, &plen))
			handle_request(s, payload, plen);
		if (s->w.fd < 0)
			return;
	}
}

/* Reads a round's worth; false when the line went down. */
static bool read_line(struct fw_serial *s, unsigned events)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (total < READ_PER_ROUND) {
		n = read(s->w.fd, buf, sizeof(buf));
		if (n > 0) {
			total += (size_t)n;
			take_bytes(s, buf, (size_t)n);
			if (s->w.fd < 0)
				return false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!(events & HAL_ERR))
				break;
			line_down(s, "hung up");
			return false;
		}
		line_down(s, n == 0 ? "end of file" : strerror(errno));
		return false;
	}
	log_noise(s);
	return true;
}

static void on_line(struct hal_fd *w, unsigned events)
{
	struct fw_serial *s = container_of(w, struct fw_serial, w);

	if ((events & (HAL_IN | HAL_ERR)) && !read_line(s, events))
		return;
	if (s->out)
		flush(s);
	if (s->w.fd >= 0)
		hal_fd_watch(s->fw->loop, &s->w, HAL_IN | (s->out ? HAL_OUT : 0));
}

static void line_open(struct fw_serial *s)
{
	char why[160];
	int fd, rc;

	rc = hal_tty_open(s->device, s->baud, &fd, why, sizeof(why));
	if (rc == ERR_OK) {
		s->w.fd = fd;
		s->w.cb = on_line;
		rc = hal_fd_watch(s->fw->loop, &s->w, HAL_IN);
		if (rc != ERR_OK) {
			close(fd);
			s->w.fd = -1;
			snprintf(why, sizeof(why), "cannot watch it: %s", hal_strerror(rc));
		}
	}
	if (rc != ERR_OK) {
		if (!s->down_logged)
			log_warn("serial: cannot open %s: %s; trying again every second", s->device, why);
		s->down_logged = true;
		hal_timer_set(s->fw->loop, &s->retry, RETRY_MS);
		return;
	}
	s->opens++;
	s->down_logged = false;
	log_info("serial: control protocol on %s at %u baud", s->device, s->baud);
}

static void on_retry(struct hal_timer *t)
{
	struct fw_serial *s = container_of(t, struct fw_serial, retry);

	if (s->w.fd < 0)
		line_open(s);
}

int fw_serial_init(struct fw *fw)
{
	const char *dev = fw->cfg->control.serial.device;
	struct fw_serial *s;

	if (!dev)
		return ERR_OK;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->device = strdup(dev))) {
		free(s);
		return ERR_NOMEM;
	}
	s->fw = fw;
	s->baud = fw->cfg->control.serial.baud;
	s->w.fd = -1;
	s->retry.cb = on_retry;
	s->from.transport = "serial";
	s->from.operator = false;
	snprintf(s->from.who, sizeof(s->from.who), "%s", dev);
	fw->serial = s;
	line_open(s);
	return ERR_OK;
}

void fw_serial_free(struct fw *fw)
{
	struct fw_serial *s = fw->serial;

	if (!s)
		return;
	hal_timer_cancel(fw->loop, &s->retry);
	line_close(s);
	net_frame_dec_free(&s->dec);
	for (unsigned i = 0; i < REPLAY_SLOTS; i++)
		free(s->cache[i].frame);
	free(s->device);
	free(s);
	fw->serial = NULL;
}

void fw_serial_status(const struct fw *fw, cJSON *o)
{
	const struct fw_serial *s = fw->serial;

	if (!s) {
		cJSON_AddNullToObject(o, "device");
		cJSON_AddBoolToObject(o, "connected", false);
		return;
	}
	cJSON_AddStringToObject(o, "device", s->device);
	cJSON_AddNumberToObject(o, "baud", s->baud);
	cJSON_AddBoolToObject(o, "connected", s->w.fd >= 0);
	cJSON_AddNumberToObject(o, "frames", (double)s->dec.frames);
	cJSON_AddNumberToObject(o, "bad_frames", (double)s->dec.bad_frames);
	cJSON_AddNumberToObject(o, "garbage_bytes", (double)s->dec.garbage_bytes);
	cJSON_AddNumberToObject(o, "replayed", (double)s->replayed);
	cJSON_AddNumberToObject(o, "replies_dropped", (double)s->dropped);
	cJSON_AddNumberToObject(o, "reopens", (double)(s->opens > 0 ? s->opens - 1 : 0));
}
