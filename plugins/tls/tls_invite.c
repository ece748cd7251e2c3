/* tls_invite.c: the invitation of a context with no launcher (`transport: tls` alone):
 * a one-line shell command that connects to the listener, pins the certificate, sends
 * the one-time token, then runs the first stage as its child with its stdin, stdout
 * and stderr relayed to the TLS connection: the master boots the context over that
 * connection as it would over any launcher's stream (docs/tls.md). Python 2.7 and 3. */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tls_int.h"

/* The program (address, port, fingerprint, token, the first stage in base64). Refusals and failures are said on stderr, exit status 1. */
static const char program[] =
	"import base64,hashlib,os,select,socket,ssl,sys\n"
	"A,P,F,T='%s',%d,'%s','%.*s'\n"
	"S=base64.b64decode('%s').decode('ascii')\n"
	"def die(m):\n"
	" sys.stderr.write('econtext invitation: %%s\\n'%%m);sys.exit(1)\n"
	"try:\n"
	" s=socket.create_connection((A,P),30)\n"
	" s.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)\n"
	" c=ssl.SSLContext(getattr(ssl,'PROTOCOL_TLS_CLIENT',ssl.PROTOCOL_SSLv23))\n"
	" c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\n"
	" if hasattr(c,'minimum_version'):c.minimum_version=ssl.TLSVersion.TLSv1_2\n"
	" else:\n"
	"  for n in('OP_NO_SSLv2','OP_NO_SSLv3','OP_NO_TLSv1','OP_NO_TLSv1_1'):"
	"c.options|=getattr(ssl,n,0)\n"
	" c.options|=getattr(ssl,'OP_NO_COMPRESSION',0)\n"
	" c.set_ciphers('ECDHE+AESGCM:ECDHE+CHACHA20');t=c.wrap_socket(s)\n"
	"except Exception as e:die('cannot reach the master at %%s port %%d: %%s'%%(A,P,e))\n"
	"if hashlib.sha256(t.getpeercert(True)).hexdigest()!=F:"
	"die('the master at %%s port %%d does not have the pinned certificate'%%(A,P))\n"
	"t.sendall(T.encode('ascii'))\n"
	"a,b=socket.socketpair()\n"
	"p=os.fork()\n"
	"if p==0:\n"
	" os.close(a.fileno());os.close(t.fileno())\n"
	" for f in(0,1,2):os.dup2(b.fileno(),f)\n"
	" os.execvp(sys.executable,[sys.executable,'-S','-c',S])\n"
	"b.close();got=0\n"
	"while 1:\n"
	" r=[t] if t.pending() else select.select([t,a],[],[])[0]\n"
	" if t in r:\n"
	"  try:d=t.recv(65536)\n"
	"  except Exception:d=b''\n"
	"  if not d:\n"
	"   if not got:die('the master at %%s port %%d refused this invitation: "
	"it was used, it expired, or it is not for this master'%%(A,P))\n"
	"   break\n"
	"  got=1;a.sendall(d)\n"
	" if a in r:\n"
	"  d=a.recv(65536)\n"
	"  if not d:break\n"
	"  t.sendall(d)\n"
	"a.close();t.close();os.waitpid(p,0)\n";

/* base64 of n bytes, NUL-terminated, malloc'd; NULL when out of memory. */
static char *b64(const void *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

int tls_invitation(const struct tls *t, const struct ec_argv *argv, char *buf, size_t cap,
                   struct ec_error *err)
{
	const struct ec_host *h = t->host;
	if (argv->argc < 4)
		return h->error_set(err, EC_EINVAL, t->name, "context '%s': no first stage to invite",
		                    t->name);
	for (const char *c = argv->argv[0]; *c; c++)
		if (*c == '\'')
			return h->error_set(err, EC_ECONFIG, t->name,
			                    "context '%s': its python holds a quote", t->name);
	char *stage = b64(argv->argv[3], strlen(argv->argv[3]));
	size_t plen = sizeof(program) + 4096 + (stage ? strlen(stage) : 0);
	char *prog = stage ? malloc(plen) : NULL;
	int n = prog ? snprintf(prog, plen, program, t->advertise, t->lis->port,
	                        t->lis->fingerprint, TLS_TOKEN_HEX, t->token, stage)
	             : -1;
	free(stage);
	char *enc = n > 0 && (size_t)n < plen ? b64(prog, (size_t)n) : NULL;
	if (prog) {
		OPENSSL_cleanse(prog, plen);
		free(prog);
	}
	int m = enc ? snprintf(buf, cap, "'%s' -c \"import base64;exec(base64.b64decode('%s'))\"",
	                       argv->argv[0], enc)
	            : -1;
	if (enc) {
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
	}
	if (m < 0 || (size_t)m >= cap) {
		OPENSSL_cleanse(buf, cap);
		return h->error_set(err, EC_ENOMEM, t->name,
		                    "context '%s': cannot write its invitation", t->name);
	}
	return 0;
}
