/*
 * topic.h - MQTT topic filters: validity and matching (MQTT 3.1.1 section 4.7).
 *
 * Routes name the events they take with a topic filter; the config layer
 * checks filters when the config is loaded and the router matches each
 * incoming topic against them. Both functions only read their arguments and
 * keep no pointers.
 */
#ifndef CFG_TOPIC_H
#define CFG_TOPIC_H

#include <stdbool.h>

#define CFG_TOPIC_MAX 65535 /* MQTT strings carry a 16-bit length */

/* '#' only as the whole last level, '+' only as a whole level, non-empty,
 * at most CFG_TOPIC_MAX bytes. */
bool cfg_topic_filter_valid(const char *filter);

/* MQTT semantics: "a/#" also matches "a"; a filter whose first level is a
 * wildcard does not match topics starting with '$' (e.g. $SYS/...). A topic
 * containing '+' or '#' is not a valid topic name and matches nothing. */
bool cfg_topic_match(const char *filter, const char *topic);

#endif
