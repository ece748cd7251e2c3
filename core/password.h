/* password.h: the host table's password service (struct ec_host password_get and
 * password_refused, econtext/plugin.h): password_env, password_file or the application. */
#ifndef EC_CORE_PASSWORD_H
#define EC_CORE_PASSWORD_H

#include "econtext/plugin.h"

/* host->password_get: the contract is in econtext/plugin.h. */
int ec__password_get(const struct ec_host *h, struct ec_password *pw, const char *key,
                     const char *prompt, char *buf, size_t cap, size_t *len,
                     struct ec_error *err);
/* host->password_refused. */
void ec__password_refused(const struct ec_host *h, const struct ec_password *pw,
                          const char *key);

#endif
