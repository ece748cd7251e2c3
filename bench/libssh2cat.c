/* libssh2cat.c: the ceiling of libssh2 itself for bulk reads, with econtext out of the
 * way: log in with a key, run a command on an exec channel, read its stdout to nowhere
 * in 32 KiB reads, print MiB/s from the first byte to EOF. bench/ssh.sh compares it
 * with `ssh host cat` and with the ssh transport.
 * Usage: libssh2cat HOST PORT USER PRIVKEY COMMAND   (a bench, not a client: blocking
 * mode, no host key check, loopback only) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s HOST PORT USER PRIVKEY COMMAND\n", argv[0]);
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "%s: not an IPv4 address\n", argv[1]);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return 1;
	}
	libssh2_init(0);
	LIBSSH2_SESSION *s = libssh2_session_init();
	char *msg = NULL;
	if (libssh2_session_handshake(s, fd) ||
	    libssh2_userauth_publickey_fromfile(s, argv[3], NULL, argv[4], NULL)) {
		libssh2_session_last_error(s, &msg, NULL, 0);
		fprintf(stderr, "login: %s\n", msg);
		return 1;
	}
	LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s);
	if (!ch || libssh2_channel_exec(ch, argv[5])) {
		libssh2_session_last_error(s, &msg, NULL, 0);
		fprintf(stderr, "exec: %s\n", msg);
		return 1;
	}
	static char buf[32768];
	long long total = 0;
	double t0 = 0;
	for (;;) {
		ssize_t n = libssh2_channel_read(ch, buf, sizeof(buf));
		if (n < 0) {
			libssh2_session_last_error(s, &msg, NULL, 0);
			fprintf(stderr, "read: %s\n", msg);
			return 1;
		}
		if (n == 0)
			break;
		if (!total)
			t0 = now();
		total += n;
	}
	if (!total) {
		fprintf(stderr, "%s: no output\n", argv[5]);
		return 1;
	}
	double dt = now() - t0;
	printf("libssh2 %s: %lld MiB in %.3f s, %.1f MiB/s (cipher %s, mac %s)\n",
	       libssh2_version(0), total >> 20, dt, total / dt / (1 << 20),
	       libssh2_session_methods(s, LIBSSH2_METHOD_CRYPT_SC),
	       libssh2_session_methods(s, LIBSSH2_METHOD_MAC_SC));
	libssh2_channel_free(ch);
	libssh2_session_disconnect(s, "bye");
	libssh2_session_free(s);
	libssh2_exit();
	close(fd);
	return 0;
}
