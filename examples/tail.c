/* examples/tail.c: follow a file on a context through a channel, as `tail -f` would:
 * the function (examples/tailfn.py, sent by the module forwarder) sends each new line
 * until the master closes the channel, here after N lines or at a deadline.
 *
 *     ./examples/tail [FILE] [N] [CONTEXT]      (defaults: /var/log/syslog 10 local)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "econtext.h"

int main(int argc, char **argv)
{
	const char *file = argc > 1 ? argv[1] : "/var/log/syslog";
	int n = argc > 2 ? atoi(argv[2]) : 10;
	const char *name = argc > 3 ? argv[3] : "local";
	const char *mp[] = {EXAMPLES_DIR, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING,
	                               .module_path = mp};
	struct ec_error err = {0};
	ec_master *m = NULL;
	ec_context *ctx = NULL;
	ec_channel *ch = NULL;
	ec_call *call = NULL;
	if (ec_master_new(&mo, &m, &err) || ec_context_connect(m, name, NULL, 30000, &ctx, &err) ||
	    ec_channel_new(ctx, &ch, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_channel(ch));
	ec_value_append(args, ec_value_cstr(file));
	int rc = ec_context_call_async(ctx, "tailfn", "tail", args, NULL, &call, &err);
	ec_value_free(args);
	for (int i = 0; !rc && i < n; i++) {
		ec_value *line = NULL;
		rc = ec_channel_recv(ch, 60000, &line, &err);
		if (!rc)
			printf("%s: %s", name, line->u.s.data);
		ec_value_free(line);
	}
	if (rc && rc != EC_EEOF)
		fprintf(stderr, "%s\n", err.msg);
	ec_channel_close(ch, NULL); /* its loop ends: is_open() is false */
	ec_value *res = NULL;
	if (call && ec_call_wait(call, 10000, &res, &err))
		fprintf(stderr, "%s\n", err.msg);
	ec_value_free(res);
	ec_call_free(call);
	ec_channel_free(ch);
	ec_context_shutdown(ctx, 3000, NULL);
	ec_master_free(m);
	return 0;
}
