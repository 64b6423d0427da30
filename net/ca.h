/*
 * ca.h - the CA file that verifies providers, parsed once for every TLS
 * connection instead of once each.
 *
 * curl 7.88 on mbedTLS reads and parses the CA file for each connection it
 * opens and keeps the parsed roots while the connection lives: Debian's
 * bundle (about 145 roots) is ~530 KiB per connection, so 32 connections
 * to a provider over HTTP/1.1 held ~16 MiB of the same roots. Here the
 * file is parsed once and every connection that names it is given the
 * parsed chain in curl's SSL context callback; a new connection looks
 * whether the file changed (a ca-certificates upgrade) and parses it again
 * if so. Verification is curl's as before (peer and host, DESIGN
 * invariant 8): only where the roots come from changes.
 *
 * One path is shared: the first one a request names. A request naming
 * another (an account's own ca_file) is set up as before, with
 * CURLOPT_CAINFO; curl keeps connections made one way apart from those
 * made the other (a CA file is part of what a connection is reused for),
 * so no request is ever verified against roots it did not name. With a
 * libcurl on another TLS library (make CURL=system) every request is set
 * up as before.
 */
#ifndef NET_CA_H
#define NET_CA_H

#include <curl/curl.h>

struct net_ca;

int net_ca_new(struct net_ca **out);
void net_ca_free(struct net_ca *ca);
/* Sets easy handle c up to verify against the roots in path (non-NULL). */
CURLcode net_ca_apply(struct net_ca *ca, CURL *c, const char *path);
/* Times a CA file was parsed here (not by curl): 1 while it stays as is. */
unsigned long net_ca_parses(const struct net_ca *ca);

#endif
