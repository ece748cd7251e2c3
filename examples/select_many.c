/* examples/select_many.c: one thread drives many contexts. It connects N local
 * contexts at once, calls platform.node and os.getloadavg on each as it comes up, and
 * prints each answer as it arrives; one context is given a python that does not exist,
 * to show a failure arriving the same way. Every wait has a deadline.
 *
 *     ./examples/select_many [PYTHON] [N]
 */
#include <stdio.h>
#include <stdlib.h>

#include "econtext.h"

struct host {
	char name[32];
	ec_connect *conn;
	ec_context *ctx;
	ec_call *call;
};

int main(int argc, char **argv)
{
	const char *python = argc > 1 ? argv[1] : "python3";
	int n = argc > 2 ? atoi(argv[2]) : 10;
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	ec_master *m = NULL;
	ec_select *sel = NULL;
	if (ec_master_new(&mo, &m, &err) || ec_select_new(m, &sel, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	struct host *hosts = calloc((size_t)n + 1, sizeof(*hosts));
	for (int i = 0; i <= n; i++) {
		char py[600];
		snprintf(hosts[i].name, sizeof(hosts[i].name), "worker%d", i);
		snprintf(py, sizeof(py), "python=%s", i < n ? python : "/nonexistent/python");
		const char *ov[] = {"transport=local", py, NULL};
		if (ec_context_connect_async(m, hosts[i].name, ov, 30000, &hosts[i].conn, &err) ||
		    ec_select_add_connect(sel, hosts[i].conn, &hosts[i], &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
	}
	while (ec_select_count(sel)) {
		void *ready[16];
		size_t k = 0;
		int rc = ec_select_wait(sel, 60000, ready, 16, &k, &err);
		if (rc) {
			fprintf(stderr, "select: %s\n", err.msg);
			break;
		}
		for (size_t j = 0; j < k; j++) {
			struct host *h = ready[j];
			if (h->conn) { /* a connect finished: up, or failed */
				rc = ec_connect_wait(h->conn, 1, &h->ctx, &err);
				ec_connect_free(h->conn);
				h->conn = NULL;
				if (rc) {
					printf("%s: could not connect: %s\n", h->name, err.msg);
				} else if (ec_context_call_async(h->ctx, "os", "getloadavg", NULL, NULL,
				                                 &h->call, &err) ||
				           ec_select_add_call(sel, h->call, h, &err)) {
					printf("%s: %s\n", h->name, err.msg);
				}
				continue;
			}
			ec_value *res = NULL; /* a call finished */
			char *json = NULL;
			rc = ec_call_wait(h->call, 1, &res, &err);
			if (!rc && !ec_value_to_json(res, &json, &err))
				printf("%s (pid %ld, python %s): load %s\n", h->name, ec_context_pid(h->ctx),
				       ec_context_python_version(h->ctx), json);
			else
				printf("%s: %s\n", h->name, err.msg);
			free(json);
			ec_value_free(res);
			ec_call_free(h->call);
			h->call = NULL;
		}
	}
	ec_select_free(sel);
	for (int i = 0; i <= n; i++)
		ec_context_shutdown(hosts[i].ctx, 3000, NULL);
	free(hosts);
	ec_master_free(m);
	return 0;
}
