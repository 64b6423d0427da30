/*
 * inbound.c - messages to our numbers, from relayed webhooks.
 *
 * Minimal: replaced by the inbound/consent work (ledger, 24 h window, STOP
 * keywords). It logs the message and queues it, as JSON, for
 * outpost/<gateway_id>/inbound in the durable publish queue of the receipts
 * (store/status.h), in the batch txn the webhook came in: called from inside
 * an MQTT read, it must not publish directly.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "firmware/fw.h"
#include "hal/log.h"
#include "net/providers/provider.h"
#include "store/status.h"

void fw_inbound(struct fw *fw, const char *account, const struct net_inbound *in)
{
	struct store_txn *t = fw_router_txn(fw);
	cJSON *o = cJSON_CreateObject();
	char topic[160], masked[CFG_PHONE_MAX];
	char *text;

	cfg_phone_mask(in->from, masked);
	log_info("inbound: message %.64s from %s to account %.32s", in->id, masked, account);
	cJSON_AddStringToObject(o, "account", account);
	cJSON_AddStringToObject(o, "id", in->id);
	cJSON_AddStringToObject(o, "from", masked);
	cJSON_AddStringToObject(o, "body", in->body);
	if (in->payload)
		cJSON_AddStringToObject(o, "payload", in->payload);
	if (in->replied_to)
		cJSON_AddStringToObject(o, "replied_to", in->replied_to);
	cJSON_AddNumberToObject(o, "at", (double)in->at_ms);
	text = cJSON_PrintUnformatted(o);
	snprintf(topic, sizeof(topic), "outpost/%s/inbound", fw->cfg->gateway_id);
	if (t && text && store_receipt_add(t, topic, text) != 0)
		log_warn("inbound: message %.64s could not be queued for publishing", in->id);
	cJSON_Delete(o);
	free(text);
}
