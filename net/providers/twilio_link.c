/*
 * twilio_link.c - which next-page links the Twilio driver follows.
 *
 * Every list request carries the account's credentials, and a walk goes on
 * for as long as the replies name a next page. So a link is followed only
 * when it stays on the host we were given (else the Auth Token would go to
 * another host) and under the path the walk lists: our own account's
 * Messages list (a link into another AccountSid would hand out another
 * account's messages as ours), or /v1/ContentAndApprovals. A link back to
 * the page just read is refused too: that walk would never end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/providers/twilio.h"

#define LINK_MAX 2048 /* a longer link is not one we would print or follow */

char *net_twilio_join(const char *base, const char *path)
{
	size_t blen = strlen(base), plen = strlen(path);
	char *url;

	if (blen && base[blen - 1] == '/')
		blen--;
	url = malloc(blen + plen + 1);
	if (!url)
		return NULL;
	memcpy(url, base, blen);
	memcpy(url + blen, path, plen + 1);
	return url;
}

/* Length of "https://host[:port]" at the start of url, 0 if it is not one. */
static size_t origin_len(const char *url)
{
	size_t n;

	if (strncasecmp(url, "https://", 8) != 0)
		return 0;
	n = 8 + strcspn(url + 8, "/?#");
	return n > 8 ? n : 0;
}

bool net_twilio_same_origin(const char *base, const char *url)
{
	size_t b = base ? origin_len(base) : 0, u = url ? origin_len(url) : 0;

	return b && b == u && strncasecmp(base, url, b) == 0;
}

/* A link we may print and follow: bounded, no spaces or control bytes. */
static bool printable(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++)
		if ((unsigned char)s[n] <= ' ' || s[n] == 0x7f || n >= LINK_MAX)
			return false;
	return n > 0;
}

/* Whether path is scope itself, with a query or nothing after it. */
static bool under(const char *path, const char *scope, size_t scope_len)
{
	return strncmp(path, scope, scope_len) == 0 &&
	       (path[scope_len] == '?' || path[scope_len] == '\0');
}

const char *net_twilio_list_scope(const char *base, const char *url, size_t *len)
{
	static const char head[] = "/2010-04-01/Accounts/", tail[] = "/Messages.json";
	size_t blen = base ? strlen(base) : 0, seg;
	const char *p;

	if (blen && base[blen - 1] == '/')
		blen--;
	if (!blen || !url || strncmp(url, base, blen) != 0)
		return NULL;
	p = url + blen;
	if (strncmp(p, head, sizeof(head) - 1) != 0)
		return NULL;
	seg = strcspn(p + sizeof(head) - 1, "/?#");
	if (!seg || seg > 64 || !under(p + sizeof(head) - 1 + seg, tail, sizeof(tail) - 1))
		return NULL;
	*len = sizeof(head) - 1 + seg + sizeof(tail) - 1;
	return p;
}

/* Why link may not be followed (the rules at the top), NULL if it may;
 * *path is where its path starts. */
static const char *refusal(const char *base, const char *link, const char *scope,
			   size_t scope_len, const char **path, char *why, size_t whylen)
{
	*path = link;
	if (!printable(link))
		return "it is not a URL";
	if (link[0] != '/') {
		if (!net_twilio_same_origin(base, link)) {
			snprintf(why, whylen, "it is not on %.80s (it would get the credentials)",
				 base);
			return why;
		}
		*path = link + origin_len(link);
	}
	if (!scope)
		return "the page's own URL is not a list we know";
	if (!under(*path, scope, scope_len)) {
		snprintf(why, whylen, "it leaves %.*s", (int)(scope_len < 120 ? scope_len : 120),
			 scope);
		return why;
	}
	return NULL;
}

void net_twilio_next_page(const char *base, const char *cur_url, const char *link,
			  const char *scope, size_t scope_len, const char *what,
			  struct net_list_page *page)
{
	char why[200];
	const char *path, *no = refusal(base, link, scope, scope_len, &path, why, sizeof(why));

	if (!no) {
		page->next_url = link[0] == '/' ? net_twilio_join(base, link) : strdup(link);
		if (!page->next_url) {
			page->cls = NET_TRANSIENT;
			snprintf(page->text, sizeof(page->text), "out of memory");
			return;
		}
		if (!cur_url || strcmp(page->next_url, cur_url) != 0)
			return;
		free(page->next_url);
		page->next_url = NULL;
		no = "it is the page just read";
	}
	page->refused_next = true;
	snprintf(page->text, sizeof(page->text), "%s %.100s not followed: %.120s", what,
		 printable(link) ? link : "(garbled)", no);
}
