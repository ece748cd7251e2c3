/* authfloor.c: the floor of an authenticated stream on this machine, no econtext in it.
 * Two processes over a socketpair (SO_SNDBUF 1 MiB, as core/child.c sets a local
 * context's), frames of 1 MiB: the writer HMAC-SHA256s each frame (OpenSSL, keyed once
 * as core/frame.c does) and writes header, payload and MAC in one writev(2); the reader
 * reads the frame into one buffer and checks its MAC. Usage:
 *   authfloor [MODE] [MiB] [fresh]
 * MODE: plain (no hashing: the socketpair alone), mac (the frames' MAC, both sides: a
 * channel's floor), mac+sha (the MAC and a SHA-256 of the content on each side, as a
 * transfer's digest: its floor); default mac. fresh: the reader reads each frame into
 * newly allocated memory (as a value that the application keeps would be: its pages
 * faulted in per frame, glibc's mmap threshold at 1 MiB as ec_master_new sets it)
 * instead of one buffer. Prints MiB/s and the CPU seconds each
 * side used. Not a test: compare it, alternated, with `cat FILE | cat >/dev/null`. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "benchutil.h"

#define FRAME (1u << 20)
#define HDR 20
#define MAC 32

static EVP_MAC_CTX *mac_new(void)
{
	static const unsigned char key[32] = "authfloor: a key of 32 bytes....";
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!ctx || !EVP_MAC_init(ctx, key, sizeof(key), params)) {
		fprintf(stderr, "authfloor: cannot set up HMAC-SHA256\n");
		exit(1);
	}
	return ctx;
}

/* The MAC of a frame: its sequence number, header and payload (the protocol's shape). */
static void frame_mac(EVP_MAC_CTX *ctx, unsigned long long seq, const unsigned char *hdr,
                      const unsigned char *p, size_t len, unsigned char out[MAC])
{
	size_t outlen = 0;
	if (!EVP_MAC_init(ctx, NULL, 0, NULL) || !EVP_MAC_update(ctx, (void *)&seq, sizeof(seq)) ||
	    !EVP_MAC_update(ctx, hdr, HDR) || !EVP_MAC_update(ctx, p, len) ||
	    !EVP_MAC_final(ctx, out, &outlen, MAC)) {
		fprintf(stderr, "authfloor: HMAC failed\n");
		exit(1);
	}
}

static void must_read(int fd, unsigned char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r <= 0) {
			fprintf(stderr, "authfloor: reader: %s\n", r ? "read failed" : "stream cut short");
			exit(1);
		}
		p += r;
		n -= (size_t)r;
	}
}

static double cpu(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static void writer(int fd, long frames, int mac, int sha)
{
	unsigned char *p = malloc(FRAME), hdr[HDR] = {0}, tag[MAC] = {0}, digest[32];
	if (!p)
		exit(1);
	for (size_t i = 0; i < FRAME; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 12));
	EVP_MAC_CTX *ctx = mac ? mac_new() : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		exit(1);
	for (long f = 0; f < frames; f++) {
		hdr[16] = FRAME >> 24;
		hdr[17] = (FRAME >> 16) & 0xff;
		if (sha && !EVP_DigestUpdate(md, p, FRAME))
			exit(1);
		if (ctx)
			frame_mac(ctx, (unsigned long long)f, hdr, p, FRAME, tag);
		struct iovec iov[3] = {{hdr, HDR}, {p, FRAME}, {tag, MAC}};
		size_t left = HDR + FRAME + MAC;
		int at = 0;
		while (left) {
			ssize_t w = writev(fd, iov + at, 3 - at);
			if (w <= 0) {
				perror("authfloor: writer: writev");
				exit(1);
			}
			left -= (size_t)w;
			while (at < 3 && (size_t)w >= iov[at].iov_len)
				w -= (ssize_t)iov[at++].iov_len;
			if (at < 3) {
				iov[at].iov_base = (char *)iov[at].iov_base + w;
				iov[at].iov_len -= (size_t)w;
			}
		}
	}
	unsigned int dl = 0;
	EVP_DigestFinal_ex(md, digest, &dl);
	EVP_MD_CTX_free(md);
	EVP_MAC_CTX_free(ctx);
	free(p);
}

static void reader(int fd, long frames, int mac, int sha, int fresh)
{
	size_t n = HDR + FRAME + MAC;
	unsigned char *buf = fresh ? NULL : malloc(n), want[MAC], digest[32];
	EVP_MAC_CTX *ctx = mac ? mac_new() : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if ((!fresh && !buf) || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		exit(1);
	for (long f = 0; f < frames; f++) {
		unsigned char *p = fresh ? malloc(n) : buf;
		if (!p)
			exit(1);
		must_read(fd, p, n);
		if (ctx) {
			frame_mac(ctx, (unsigned long long)f, p, p + HDR, FRAME, want);
			if (CRYPTO_memcmp(want, p + HDR + FRAME, MAC)) {
				fprintf(stderr, "authfloor: reader: bad MAC on frame %ld\n", f);
				exit(1);
			}
		}
		if (sha && !EVP_DigestUpdate(md, p + HDR, FRAME))
			exit(1);
		if (fresh)
			free(p);
	}
	unsigned int dl = 0;
	EVP_DigestFinal_ex(md, digest, &dl);
	EVP_MD_CTX_free(md);
	EVP_MAC_CTX_free(ctx);
	free(buf);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "mac";
	long mib = argc > 2 ? atol(argv[2]) : 512;
	int fresh = argc > 3 && !strcmp(argv[3], "fresh");
	int mac = strcmp(mode, "plain") != 0, sha = !strcmp(mode, "mac+sha");
	if ((mac && !sha && strcmp(mode, "mac")) || mib <= 0) {
		fprintf(stderr, "usage: %s [plain|mac|mac+sha] [MiB] [fresh]\n", argv[0]);
		return 2;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("authfloor: socketpair");
		return 1;
	}
	int sndbuf = 1 << 20;
	for (int i = 0; i < 2; i++)
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("authfloor: fork");
		return 1;
	}
	if (pid == 0) {
		close(sv[1]);
		writer(sv[0], mib, mac, sha);
		_exit(0);
	}
	close(sv[0]);
	if (fresh)
		mallopt(M_MMAP_THRESHOLD, 1 << 20);
	reader(sv[1], mib, mac, sha, fresh);
	double dt = now() - t0;
	int status = 0;
	waitpid(pid, &status, 0);
	struct rusage self, kid;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kid);
	printf("authfloor %s%s: %ld MiB in %.3f s: %.0f MiB/s; CPU s: writer %.2f, reader %.2f\n",
	       mode, fresh ? " fresh" : "", mib, dt, mib / dt, cpu(&kid.ru_utime) + cpu(&kid.ru_stime),
	       cpu(&self.ru_utime) + cpu(&self.ru_stime));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
