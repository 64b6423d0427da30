/*
 * schedule.h - when a record may go by its route (config/schedule.h): the
 * quiet hours of its route, read in the site's time zone. Priority needs
 * nothing at send time: the router stamps it on the record and the due
 * index's lanes take the higher first (store/outbox.h).
 */
#ifndef FW_SCHEDULE_H
#define FW_SCHEDULE_H

#include <stdint.h>

struct fw;
struct store_msg;

/* Applies the config's "timezone" (at start, before any thread; at reload). */
void fw_schedule_reconfigure(struct fw *fw);

/* 0 if m may go at wall ms; else when its route's quiet hours end (the
 * sender makes it due then and counts it). */
int64_t fw_schedule_hold(struct fw *fw, const struct store_msg *m, int64_t wall);

#endif
