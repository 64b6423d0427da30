/*
 * privdrop.c - becoming the configured user (DESIGN.md invariant 12).
 *
 * Called once everything that may need root is open: the store, the
 * device key, the control socket, the serial port. What was made as root
 * on the way is given to the user first, so that the user can open it
 * again at its next start and remove its socket at the end; then the drop,
 * for good (hal/priv.h). The broker link and the HTTP engine talk to the
 * network only after this.
 */
#include <stdio.h>
#include <unistd.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "hal/err.h"
#include "hal/log.h"
#include "hal/priv.h"
#include "store/store.h"

int fw_privs_lookup(const struct cfg *cfg, char *why, size_t whylen)
{
	struct hal_priv_id id;
	int err;

	if (!cfg->user) {
		hal_priv_expect(NULL);
		return ERR_OK;
	}
	err = hal_priv_lookup(cfg->user, cfg->group, &id, why, whylen);
	hal_priv_expect(err == ERR_OK ? &id : NULL);
	return err;
}

static int give(struct fw *fw, const struct hal_priv_id *id, char *why, size_t whylen)
{
	int err = store_give(fw->store, id, why, whylen);

	if (err == ERR_OK)
		err = fw_vault_give(fw, id, why, whylen);
	if (err == ERR_OK)
		err = fw_control_give(fw, id, why, whylen);
	return err;
}

int fw_privs_drop(struct fw *fw)
{
	struct hal_priv_id id;
	char why[300];
	int err;

	if (!fw->cfg->user) {
		if (geteuid() == 0)
			log_warn("running as root: set \"user\" in %s (or run under the systemd "
				 "unit, which starts us as outpost) so that the part that talks to "
				 "the internet is not root", fw->cfg_path);
		return ERR_OK;
	}
	err = hal_priv_lookup(fw->cfg->user, fw->cfg->group, &id, why, sizeof(why));
	if (err == ERR_OK && geteuid() == 0)
		err = give(fw, &id, why, sizeof(why));
	if (err == ERR_OK)
		err = hal_priv_drop(&id, why, sizeof(why));
	if (err != ERR_OK) {
		log_err("cannot run as user %s: %s; not starting as root instead", fw->cfg->user, why);
		return ERR_PERM;
	}
	log_info("running as user %s (uid %u, gid %u)", id.user, id.uid, id.gid);
	return ERR_OK;
}
