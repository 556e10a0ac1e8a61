/* config_modules.h: every module's table of keys, at its slot, as the
 * programs hand them to config_load (src/http/main.c, src/ctl/creditctl.c),
 * for the tests that load a config. */
#ifndef CREDITD_TEST_CONFIG_MODULES_H
#define CREDITD_TEST_CONFIG_MODULES_H
#include "config.h"
#include "gwconfig.h"
#include "ledger_config.h"
#include "notify_config.h"
#include "email_config.h"
#include "stripe_config.h"
#include "widget_config.h"

static const struct config_module *const test_modules[CONFIG_MODULES] = {
	CONFIG_MODULE_LIST(CONFIG_MODULE_ENTRY)
};
#endif
