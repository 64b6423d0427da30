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

/* How far ahead quiet hours and quotas may set a due time (the sender
 * takes a due time further ahead than anything it sets for one a clock set
 * back left behind): a day and then some with quiet hours or a day's
 * quota, a month and then some with a month's quota or a cost cap. */
int64_t fw_schedule_horizon_ms(const struct fw *fw);

#endif
