#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "hal/clock.h"
#include "tools/outpostctl/octl.h"

/* Lines of counts wrap here: readable on an 80-column serial console. */
#define WRAP_COLS 78

const char *octl_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool octl_num(const cJSON *obj, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return false;
	*out = v->valuedouble;
	return true;
}

void octl_fmt_duration(char *buf, size_t len, double s, bool compact)
{
	unsigned long long t;

	if (!isfinite(s) || s < 0 || s > 1e12) {
		snprintf(buf, len, "?");
		return;
	}
	t = (unsigned long long)s;
	if (compact) {
		if (t < 60)
			snprintf(buf, len, "%llus", t);
		else if (t < 3600)
			snprintf(buf, len, "%llum", t / 60);
		else if (t < 86400)
			snprintf(buf, len, "%lluh", t / 3600);
		else
			snprintf(buf, len, "%llud", t / 86400);
	} else if (t < 60) {
		snprintf(buf, len, "%llu s", t);
	} else if (t < 3600) {
		snprintf(buf, len, "%llu min %llu s", t / 60, t % 60);
	} else if (t < 86400) {
		snprintf(buf, len, "%llu h %llu min", t / 3600, t % 3600 / 60);
	} else {
		snprintf(buf, len, "%llu d %llu h", t / 86400, t % 86400 / 3600);
	}
}

void octl_fmt_bytes(char *buf, size_t len, double b)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	size_t i = 0;

	if (!isfinite(b) || b < 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (b < 1024) {
		snprintf(buf, len, "%.0f B", b);
		return;
	}
	b /= 1024;
	while (b >= 1024 && i + 1 < sizeof(units) / sizeof(units[0])) {
		b /= 1024;
		i++;
	}
	snprintf(buf, len, b < 10 ? "%.1f %s" : "%.0f %s", b, units[i]);
}

/* Length of the valid, printable UTF-8 sequence at s, or 0. C1 controls
 * (U+0080..U+009F) count as unprintable: some terminals obey them. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n, i;
	unsigned long cp;

	if (c < 0xC2 || c > 0xF4)
		return 0;
	n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0xA0)
		return 0;
	return n;
}

/* The printable form of the character at s: its bytes, or an escape.
 * Returns the bytes of s consumed; out gets the text, *cols its width. */
static size_t next_tok(const unsigned char *s, char *out, size_t outlen, size_t *cols)
{
	size_t n;

	if (*s >= 0x20 && *s < 0x7F) {
		snprintf(out, outlen, "%c", *s);
		*cols = 1;
		return 1;
	}
	n = utf8_len(s);
	if (n) {
		memcpy(out, s, n);
		out[n] = '\0';
		*cols = 1;
		return n;
	}
	if (*s == '\n' || *s == '\t' || *s == '\r')
		snprintf(out, outlen, "\\%c", *s == '\n' ? 'n' : *s == '\t' ? 't' : 'r');
	else
		snprintf(out, outlen, "\\x%02x", *s);
	*cols = strlen(out);
	return 1;
}

size_t octl_text_cols(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char tok[8];
	size_t cols = 0, c;

	while (*p) {
		p += next_tok(p, tok, sizeof(tok), &c);
		cols += c;
	}
	return cols;
}

size_t octl_put_text(FILE *f, const char *s, size_t maxcols, size_t width)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	bool cut = maxcols > 0 && octl_text_cols(s) > maxcols;
	size_t room = cut ? (maxcols > 3 ? maxcols - 3 : 0) : (size_t)-1;
	size_t cols = 0, c, n;
	char tok[8];

	while (*p) {
		n = next_tok(p, tok, sizeof(tok), &c);
		if (cols + c > room)
			break;
		fputs(tok, f);
		cols += c;
		p += n;
	}
	if (cut) {
		fputs(maxcols >= 3 ? "..." : "", f);
		cols += maxcols >= 3 ? 3 : 0;
	}
	for (c = cols; c < width; c++)
		fputc(' ', f);
	return cols;
}

/* The daemon's key as a word for people: "http_inflight" -> "http inflight". */
static void key_words(char *out, size_t len, const char *key)
{
	size_t i;

	for (i = 0; key[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)key[i];

		out[i] = c == '_' ? ' ' : (c > 0x20 && c < 0x7F) ? (char)c : '?';
	}
	out[i] = '\0';
}

struct wrap {
	FILE *f;
	const char *indent;
	size_t col;
	bool first;
};

static void wrap_put(struct wrap *w, const char *item)
{
	size_t len = strlen(item);

	if (!w->first) {
		if (w->col + 2 + len > WRAP_COLS) {
			fprintf(w->f, ",\n%s", w->indent);
			w->col = strlen(w->indent);
		} else {
			fputs(", ", w->f);
			w->col += 2;
		}
	}
	fputs(item, w->f);
	w->col += len;
	w->first = false;
}

static void put_count_items(struct wrap *w, const cJSON *obj, bool zero)
{
	const cJSON *c;
	char key[48], item[96];

	cJSON_ArrayForEach(c, obj) {
		if (!cJSON_IsNumber(c) || !c->string || (c->valuedouble == 0) != zero)
			continue;
		key_words(key, sizeof(key), c->string);
		if (zero)
			snprintf(item, sizeof(item), "%s", key);
		else if (c->valuedouble == floor(c->valuedouble) && fabs(c->valuedouble) < 1e15)
			snprintf(item, sizeof(item), "%s %.0f", key, c->valuedouble);
		else
			snprintf(item, sizeof(item), "%s %g", key, c->valuedouble);
		wrap_put(w, item);
	}
}

static bool has_count(const cJSON *obj, bool zero)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, obj) {
		if (cJSON_IsNumber(c) && c->string && (c->valuedouble == 0) == zero)
			return true;
	}
	return false;
}

void octl_put_counts(FILE *f, const cJSON *obj, const char *indent)
{
	struct wrap w = {.f = f, .indent = indent, .col = strlen(indent), .first = true};
	bool zeros = has_count(obj, true);

	if (!has_count(obj, false)) {
		fputs(zeros ? "all 0\n" : "?\n", f);
		return;
	}
	put_count_items(&w, obj, false);
	fputc('\n', f);
	if (!zeros)
		return;
	fprintf(f, "%s(0: ", indent);
	w.first = true;
	w.col = strlen(indent) + 4;
	put_count_items(&w, obj, true);
	fputs(")\n", f);
}

size_t octl_term_cols(void)
{
	struct winsize ws;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return 0;
	return ws.ws_col;
}

#define BAR_AFTER_MS 300
#define BAR_WIDTH 30

void octl_bar_show(struct octl_bar *b, uint64_t done, uint64_t total, const char *unit)
{
	unsigned fill;

	if (!isatty(STDERR_FILENO) || !total || hal_now_ms() - b->t0_ms < BAR_AFTER_MS)
		return;
	fill = (unsigned)(done * BAR_WIDTH / total);
	fprintf(stderr, "\r[%.*s%*s] %llu/%llu %s (%llu%%)", (int)fill,
		"##############################", (int)(BAR_WIDTH - fill), "",
		(unsigned long long)done, (unsigned long long)total, unit,
		(unsigned long long)(done * 100 / total));
	b->shown = true;
}

void octl_bar_clear(struct octl_bar *b)
{
	if (b->shown)
		fputs("\r\033[K", stderr);
	b->shown = false;
}

/* One line from the terminal without echo, or from stdin. */
bool octl_read_secret(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	bool ok;
	size_t n;

	if (tty) {
		fputs(prompt, stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	ok = fgets(buf, (int)len, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!ok)
		return false;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1) {
		explicit_bzero(buf, len);
		return false; /* longer than any secret we take */
	}
	buf[n] = '\0';
	return n > 0;
}

bool octl_read_pin(char *buf, size_t len)
{
	const char *env = getenv("OUTPOST_PIN");

	if (env) {
		snprintf(buf, len, "%s", env);
		return buf[0] != '\0';
	}
	if (octl_read_secret("technician PIN (not shown): ", buf, len))
		return true;
	fprintf(stderr, "outpostctl: --pin: no PIN read (type it, or set OUTPOST_PIN)\n");
	return false;
}
