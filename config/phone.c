#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "config/phone.h"
#include "hal/err.h"

#define E164_MIN_DIGITS 8
#define E164_MAX_DIGITS 15
#define CC_MAX_DIGITS 3

/* Digits collected from the input; one spare slot so that "too long" is
 * detected without scanning unbounded input. */
struct digits {
	char d[E164_MAX_DIGITS + 1];
	size_t n;
	bool overflow;
};

static void digits_add(struct digits *dg, char c)
{
	if (dg->n < sizeof(dg->d))
		dg->d[dg->n++] = c;
	else
		dg->overflow = true;
}

static bool is_separator(char c)
{
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

static bool country_valid(const char *cc)
{
	size_t i, n = strlen(cc);

	if (n < 1 || n > CC_MAX_DIGITS || cc[0] == '0')
		return false;
	for (i = 0; i < n; i++)
		if (cc[i] < '0' || cc[i] > '9')
			return false;
	return true;
}

/* Collects the digits; *plus tells whether the number was international. */
static int collect(const char *p, struct digits *dg, bool *plus, const char **why)
{
	if (*p == '+') {
		*plus = true;
		p++;
	}
	for (; *p; p++) {
		char c = *p;

		if (*plus && strncmp(p, "(0)", 3) == 0) {
			p += 2;
			continue;
		}
		if (c >= '0' && c <= '9') {
			/* "00" only counts as the international prefix at the start */
			digits_add(dg, c);
			if (!*plus && dg->n == 2 && dg->d[0] == '0' && dg->d[1] == '0') {
				*plus = true;
				dg->n = 0;
			}
		} else if (is_separator(c)) {
			continue;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			*why = "not a phone number: letters";
			return ERR_INVAL;
		} else if (c == '+') {
			*why = "not a phone number: '+' not at the start";
			return ERR_INVAL;
		} else {
			*why = "not a phone number: unexpected character";
			return ERR_INVAL;
		}
	}
	return ERR_OK;
}

/* National number: drop one trunk '0', prepend the default country code. */
static int apply_country(struct digits *dg, const char *cc, const char **why)
{
	struct digits full = { .n = 0 };
	size_t i = 0;

	if (!cc) {
		*why = "no country code and no default_country";
		return ERR_INVAL;
	}
	if (!country_valid(cc)) {
		*why = "default_country is not 1-3 digits";
		return ERR_INVAL;
	}
	for (; *cc; cc++)
		digits_add(&full, *cc);
	if (dg->n > 0 && dg->d[0] == '0')
		i = 1;
	for (; i < dg->n; i++)
		digits_add(&full, dg->d[i]);
	full.overflow |= dg->overflow;
	*dg = full;
	return ERR_OK;
}

int cfg_phone_normalize(const char *in, const char *default_country, char out[CFG_PHONE_MAX],
			const char **why)
{
	struct digits dg = { .n = 0 };
	bool plus = false;
	const char *dummy;
	int rc;

	if (!why)
		why = &dummy;
	out[0] = '\0';
	if (!in || !*in) {
		*why = "empty";
		return ERR_INVAL;
	}
	if (strncasecmp(in, "whatsapp:", 9) == 0)
		in += 9;
	rc = collect(in, &dg, &plus, why);
	if (rc == ERR_OK && dg.n == 0) {
		*why = "not a phone number: no digits";
		return ERR_INVAL;
	}
	if (rc == ERR_OK && !plus)
		rc = apply_country(&dg, default_country, why);
	if (rc != ERR_OK)
		return rc;
	if (dg.overflow || dg.n > E164_MAX_DIGITS) {
		*why = "too long for E.164 (at most 15 digits)";
		return ERR_INVAL;
	}
	if (dg.n < E164_MIN_DIGITS) {
		*why = "too short for E.164";
		return ERR_INVAL;
	}
	if (dg.d[0] == '0') {
		*why = "country code cannot start with 0";
		return ERR_INVAL;
	}
	out[0] = '+';
	memcpy(out + 1, dg.d, dg.n);
	out[dg.n + 1] = '\0';
	return ERR_OK;
}

void cfg_phone_mask(const char *e164, char out[CFG_PHONE_MAX])
{
	size_t len, i, keep_head = 4, keep_tail = 3;

	if (!e164) {
		out[0] = '\0';
		return;
	}
	len = strnlen(e164, CFG_PHONE_MAX - 1);
	/* Too short to show anything and still hide the subscriber. */
	if (len < keep_head + keep_tail + 2)
		keep_head = keep_tail = 0;
	for (i = 0; i < len; i++) {
		bool show = i < keep_head || i >= len - keep_tail || (i == 0 && e164[0] == '+');

		out[i] = show ? e164[i] : '*';
	}
	/* Input longer than a valid E.164 number is cut; keep its real tail. */
	if (keep_tail && e164[len] != '\0')
		memcpy(out + len - keep_tail, e164 + strlen(e164) - keep_tail, keep_tail);
	out[len] = '\0';
}
