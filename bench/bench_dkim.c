/*
 * bench_dkim — DKIM verifications per second on one core: authgate's
 * verifier (key cached, as in the daemon) next to OpenDKIM's library (key
 * handed over by a lookup callback, no DNS) on the same messages, plus the
 * OpenSSL ceiling: one cached-key verify + SHA-256 over the message.
 *
 * Messages of 2 KB, 8 KB and 64 KB, relaxed/relaxed, signed in-process by
 * libopendkim with fresh RSA-2048 and ed25519 keys; both verifiers must
 * say pass before anything is timed.
 *
 * The machine is shared, so time is this thread's CPU time, every figure
 * is the best of ROUNDS short slices, and the slices of the four
 * quantities of one row (authgate, OpenDKIM, bare verify, SHA-256 over
 * the message's length) are interleaved: a burst of foreign load hits
 * them alike and the best slice of each is the one least disturbed.
 * usage: bench_dkim [SECONDS per row, default 2.0]
 */
#include "../verify/dkim.h"

#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1800000000u

static double secs = 2.0;
#define ROUNDS 20

/* CPU time of this thread: time the scheduler gave to other processes on
 * the shared machine is not counted against anyone. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run fn(arg) repeatedly for `slice` seconds; returns calls per second. */
static double rate(void (*fn)(void *), void *arg, double slice)
{
	unsigned long n = 0, batch = 1;
	double t0 = now_s(), t;
	do {
		for (unsigned long i = 0; i < batch; i++)
			fn(arg);
		n += batch;
		if (batch < 64)
			batch *= 2;
		t = now_s();
	} while (t - t0 < slice);
	return (double)n / (t - t0);
}

static double best(double a, double b)
{
	return a > b ? a : b;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_dkim: %s\n", what);
	exit(1);
}

/* ------------------------------------------------------------ keys */

struct bkey {
	const char *name, *alg, *sel;
	EVP_PKEY *pkey;
	char *pem;     /* private key for the signer */
	char record[1024];
};

static void make_key(struct bkey *k, int ed)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, ed ? "ED25519" : "RSA", NULL);
	if (!c || EVP_PKEY_keygen_init(c) <= 0 ||
	    (!ed && EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048) <= 0) ||
	    EVP_PKEY_keygen(c, &k->pkey) <= 0)
		die("keygen");
	EVP_PKEY_CTX_free(c);
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	k->pem = strndup(p, (size_t)n);
	BIO_free(b);
	unsigned char der[600], raw[32], *q = der;
	int dl;
	size_t rl = sizeof raw;
	char b64[900];
	if (ed) {
		EVP_PKEY_get_raw_public_key(k->pkey, raw, &rl);
		EVP_EncodeBlock((unsigned char *)b64, raw, (int)rl);
	} else {
		dl = i2d_PUBKEY(k->pkey, &q);
		EVP_EncodeBlock((unsigned char *)b64, der, dl);
	}
	snprintf(k->record, sizeof k->record, "v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa", b64);
	k->name = ed ? "ed25519" : "rsa-2048";
	k->alg = ed ? "ed25519-sha256" : "rsa-sha256";
	k->sel = ed ? "bed" : "brsa";
}

/* -------------------------------------------------------- messages */

static const char *WORDS[] = {"the", "quick", "brown", "fox", "jumps", "over", "a",
			      "lazy", "dog", "while", "mail", "flows", "through", "edge"};

static char *make_body(size_t size, size_t *len)
{
	char *b = malloc(size + 128);
	size_t n = 0, col = 0;
	unsigned r = 12345;
	while (n < size) {
		r = r * 1103515245u + 12345u;
		const char *w = WORDS[(r >> 16) % 14];
		size_t wl = strlen(w);
		if (col + wl > 72) {
			memcpy(b + n, "\r\n", 2);
			n += 2, col = 0;
		} else if (col) {
			b[n++] = ' ', col++;
		}
		memcpy(b + n, w, wl);
		n += wl, col += wl;
	}
	memcpy(b + n, "\r\n", 2);
	*len = n + 2;
	return b;
}

static const char HEADERS[] =
	"Received: from mail.example.net (mail.example.net [192.0.2.1])\r\n"
	"\tby mx.example.com with ESMTPS id 4Xy; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"From: Sender Name <sender@example.com>\r\n"
	"To: Recipient <rcpt@example.org>\r\n"
	"Subject: A benchmark message of a realistic shape\r\n"
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Message-ID: <bench.1@example.com>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n";

/* Header fields as (pointer, length without CRLF), for OpenDKIM. */
struct fields {
	unsigned n;
	unsigned char *p[64];
	size_t len[64];
	unsigned char *body;
	size_t bodylen;
};

static void split(char *msg, size_t len, struct fields *f)
{
	char *p = msg, *end = msg + len;
	f->n = 0;
	while (p < end && !(p[0] == '\r' && p[1] == '\n')) {
		char *e = p;
		do {
			e = memchr(e, '\n', (size_t)(end - e)) + 1;
		} while (*e == ' ' || *e == '\t');
		f->p[f->n] = (unsigned char *)p;
		f->len[f->n++] = (size_t)(e - p) - 2;
		p = e;
	}
	f->body = (unsigned char *)p + 2;
	f->bodylen = (size_t)(end - p - 2);
}

static DKIM_LIB *od_lib;
static const char *od_record; /* what the key lookup callback returns */

static DKIM_CBSTAT od_lookup(DKIM *d, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	(void)d, (void)sig;
	snprintf((char *)buf, buflen, "%s", od_record);
	return DKIM_CBSTAT_CONTINUE;
}

static char *sign_message(const struct bkey *k, size_t bodysize, size_t *len)
{
	size_t bl;
	char *body = make_body(bodysize, &bl);
	size_t ml = strlen(HEADERS) + 2 + bl;
	char *msg = malloc(ml + 1);
	sprintf(msg, "%s\r\n", HEADERS);
	memcpy(msg + strlen(HEADERS) + 2, body, bl);
	free(body);
	struct fields f;
	split(msg, ml, &f);
	DKIM_STAT st;
	DKIM *d = dkim_sign(od_lib, (const unsigned char *)"bench", NULL,
			    (unsigned char *)k->pem, (const unsigned char *)k->sel,
			    (const unsigned char *)"example.com", DKIM_CANON_RELAXED,
			    DKIM_CANON_RELAXED,
			    strcmp(k->alg, "rsa-sha256") ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256,
			    -1, &st);
	if (!d)
		die("dkim_sign");
	for (unsigned i = 0; i < f.n; i++)
		dkim_header(d, f.p[i], f.len[i]);
	_Bool tk;
	unsigned char *hdr;
	size_t hl;
	if (dkim_eoh(d) != DKIM_STAT_OK || dkim_body(d, f.body, f.bodylen) != DKIM_STAT_OK ||
	    dkim_eom(d, &tk) != DKIM_STAT_OK ||
	    dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &hdr, &hl) != DKIM_STAT_OK)
		die("OpenDKIM signing");
	char *out = malloc(ml + hl * 2 + 64);
	size_t n = (size_t)sprintf(out, "DKIM-Signature: ");
	for (size_t i = 0; i < hl; i++) { /* folds as CRLF, whether it gave LF or CRLF */
		if (hdr[i] == '\n' && (i == 0 || hdr[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = (char)hdr[i];
	}
	memcpy(out + n, "\r\n", 2);
	memcpy(out + n + 2, msg, ml);
	*len = n + 2 + ml;
	dkim_free(d);
	free(msg);
	return out;
}

/* ------------------------------------------------------- verifiers */

struct job {
	const char *msg;
	size_t len;
	struct fields f;
	struct dkim_config cfg;
	int last_ok;
};

static void ours(void *arg)
{
	struct job *j = arg;
	struct dkim_verifier *v = dkim_verifier_new(&j->cfg, j->msg, j->len);
	if (!v || !dkim_verifier_done(v))
		die("authgate verifier needed a lookup (key not cached?)");
	j->last_ok = dkim_verifier_results(v)->result == DKIM_RESULT_PASS;
	dkim_verifier_free(v);
}

static void theirs(void *arg)
{
	struct job *j = arg;
	DKIM_STAT st;
	_Bool tk;
	DKIM *d = dkim_verify(od_lib, (const unsigned char *)"bench", NULL, &st);
	for (unsigned i = 0; i < j->f.n; i++)
		dkim_header(d, j->f.p[i], j->f.len[i]);
	dkim_eoh(d);
	dkim_body(d, j->f.body, j->f.bodylen);
	j->last_ok = dkim_eom(d, &tk) == DKIM_STAT_OK;
	dkim_free(d);
}

/* ----------------------------------------------------------- ceiling */

/* The ceiling's signature check, as openssl speed runs it: a context set
 * up once, then one verify call per signature. */
struct ceil {
	EVP_PKEY *k;
	EVP_PKEY_CTX *rsa;
	EVP_MD_CTX *ed;
	unsigned char sig[512], dg[32];
	size_t siglen;
	unsigned char *buf;
	size_t len;
};

static void c_verify(void *arg)
{
	struct ceil *c = arg;
	int ok = c->ed ? EVP_DigestVerify(c->ed, c->sig, c->siglen, c->dg, 32)
		       : EVP_PKEY_verify(c->rsa, c->sig, c->siglen, c->dg, 32);
	if (ok != 1)
		die("ceiling verify");
}

static void c_sha(void *arg)
{
	struct ceil *c = arg;
	unsigned char d[32];
	EVP_Digest(c->buf, c->len, d, NULL, EVP_sha256(), NULL);
}

struct row {
	double ours, theirs, verify, sha; /* per second, best slice */
};

/* One row: the four quantities, interleaved, best of ROUNDS slices. */
static void measure(struct job *j, struct ceil *c, struct row *r)
{
	double slice = secs / ROUNDS / 4;
	*r = (struct row){0};
	for (int i = 0; i < ROUNDS; i++) {
		r->ours = best(r->ours, rate(ours, j, slice));
		r->theirs = best(r->theirs, rate(theirs, j, slice));
		r->verify = best(r->verify, rate(c_verify, c, slice));
		r->sha = best(r->sha, rate(c_sha, c, slice));
	}
}

static void ceil_init(struct ceil *c, EVP_PKEY *k)
{
	memset(c, 0, sizeof *c);
	c->k = k;
	memset(c->dg, 7, 32);
	c->siglen = sizeof c->sig;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		EVP_DigestSignInit(m, NULL, NULL, NULL, k);
		EVP_DigestSign(m, c->sig, &c->siglen, c->dg, 32);
		EVP_MD_CTX_free(m);
		c->ed = EVP_MD_CTX_new();
		EVP_DigestVerifyInit(c->ed, NULL, NULL, NULL, k);
		return;
	}
	EVP_PKEY_CTX *p = EVP_PKEY_CTX_new(k, NULL);
	EVP_PKEY_sign_init(p);
	EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PADDING);
	EVP_PKEY_CTX_set_signature_md(p, EVP_sha256());
	EVP_PKEY_sign(p, c->sig, &c->siglen, c->dg, 32);
	EVP_PKEY_CTX_free(p);
	c->rsa = EVP_PKEY_CTX_new(k, NULL);
	EVP_PKEY_verify_init(c->rsa);
	EVP_PKEY_CTX_set_rsa_padding(c->rsa, RSA_PKCS1_PADDING);
	EVP_PKEY_CTX_set_signature_md(c->rsa, EVP_sha256());
}

static void ceil_free(struct ceil *c)
{
	EVP_PKEY_CTX_free(c->rsa);
	EVP_MD_CTX_free(c->ed);
	free(c->buf);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--quick") == 0)
		secs = 0.3;
	else if (argc > 1 && strcmp(argv[1], "--smoke") == 0)
		secs = 0.02;
	else if (argc > 1)
		secs = atof(argv[1]);
	if (secs <= 0)
		die("usage: bench_dkim [SECONDS per row | --quick | --smoke]");
	char json[2048];
	int jn = snprintf(json, sizeof json, "{\"bench\":\"dkim\"");
	od_lib = dkim_init(NULL, NULL);
	dkim_set_key_lookup(od_lib, od_lookup);
	struct bkey keys[2] = {0};
	make_key(&keys[0], 0);
	make_key(&keys[1], 1);
	printf("%s, one core, thread CPU time; each figure the best of %d interleaved\n"
	       "slices, %.1f s per row\n\n",
	       OpenSSL_version(OPENSSL_VERSION), ROUNDS, secs);
	printf("%-9s %-6s %11s %11s %7s | %9s %9s %11s %8s %8s\n", "alg", "size", "authgate/s",
	       "opendkim/s", "ratio", "verify/s", "SHA MB/s", "ceiling/s", "of ceil", "of vrfy");
	static const size_t sizes[] = {2048, 8192, 65536};
	for (int ki = 0; ki < 2; ki++) {
		struct dkim_key_cache *cache = dkim_key_cache_new(16);
		for (size_t si = 0; si < 3; si++) {
			struct job j = {0};
			char *m = sign_message(&keys[ki], sizes[si], &j.len);
			j.msg = m;
			split(m, j.len, &j.f);
			j.cfg = (struct dkim_config){.now = NOW, .keys = cache};
			struct dkim_key key;
			if (dkim_key_load(keys[ki].record, strlen(keys[ki].record), &key) != DKIM_KEY_OK)
				die("key record");
			dkim_key_cache_put(cache, (struct dkim_slice){"example.com", 11},
					   (struct dkim_slice){keys[ki].sel, strlen(keys[ki].sel)},
					   NOW, 86400, &key);
			EVP_PKEY_free(key.pkey);
			od_record = keys[ki].record;
			ours(&j);
			if (!j.last_ok)
				die("authgate does not pass the bench message");
			theirs(&j);
			if (!j.last_ok)
				die("OpenDKIM does not pass the bench message");
			struct ceil c;
			ceil_init(&c, keys[ki].pkey);
			c.len = j.len;
			c.buf = calloc(1, c.len);
			struct row r;
			measure(&j, &c, &r);
			double ceiling = 1.0 / (1.0 / r.verify + 1.0 / r.sha);
			printf("%-9s %3zu KB %11.0f %11.0f %6.1fx | %9.0f %9.0f %11.0f %7.1f%% %7.1f%%\n",
			       keys[ki].name, sizes[si] / 1024, r.ours, r.theirs, r.ours / r.theirs,
			       r.verify, r.sha * (double)j.len / 1e6, ceiling, 100.0 * r.ours / ceiling,
			       100.0 * r.ours / r.verify);
			jn += snprintf(json + jn, sizeof json - (size_t)jn,
				       ",\"%s_%zuk_per_s\":%.0f,\"%s_%zuk_opendkim_per_s\":%.0f,"
				       "\"%s_%zuk_of_ceiling\":%.3f",
				       keys[ki].name, sizes[si] / 1024, r.ours, keys[ki].name,
				       sizes[si] / 1024, r.theirs, keys[ki].name, sizes[si] / 1024,
				       r.ours / ceiling);
			ceil_free(&c);
			free(m);
		}
		dkim_key_cache_free(cache);
	}
	printf("\nceiling = 1 / (1/verify + 1/SHA-256 of the message): one cached-key\n"
	       "signature check plus one hash of every message byte. 'of vrfy' is\n"
	       "authgate against the bare signature check alone.\n");
	printf("%s}\n", json);
	dkim_close(od_lib);
	for (int ki = 0; ki < 2; ki++) {
		EVP_PKEY_free(keys[ki].pkey);
		free(keys[ki].pem);
	}
	return 0;
}
