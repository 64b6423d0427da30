/*
 * ha.h - what outpostd publishes for dashboards: today's statistics,
 * retained on outpost/<gateway_id>/stats, and Home Assistant's MQTT
 * discovery (docs/ALERTING.md "Home Assistant"), off unless
 * homeassistant.discovery is true.
 *
 * A tick once a minute (FW_STATS_PUBLISH_MS) publishes the statistics and
 * the sensors' state when they changed since the last publish; a new
 * broker link publishes all of it again. Nothing here writes to the store.
 */
#ifndef FW_HA_H
#define FW_HA_H

#include <stdbool.h>

struct fw;

int fw_ha_init(struct fw *fw); /* ERR_OK or ERR_NOMEM; starts the tick */
void fw_ha_free(struct fw *fw);
void fw_ha_link(struct fw *fw, bool up);
/* After a reload: removes what was announced under a prefix the new
 * config does not announce under, announces what it does. */
void fw_ha_reconfigure(struct fw *fw);
/* One binary sensor per escalation in progress: on announces it (state
 * ON), off removes it (empty retained config and state). id is cut to
 * [A-Za-z0-9_-]; at most HA_ESCALATIONS_MAX at once. A no-op with
 * discovery off. ERR_OK, ERR_LIMIT, ERR_NOMEM. */
#define HA_ESCALATIONS_MAX 64
int fw_ha_escalation(struct fw *fw, const char *id, bool on);
/* Publishes what changed now (tests, and the tick). */
void fw_ha_publish(struct fw *fw);

#endif
