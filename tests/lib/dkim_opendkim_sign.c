/*
 * dkim_opendkim_sign — sign one message with libopendkim, for the interop
 * test. usage: dkim_opendkim_sign KEYFILE SELECTOR DOMAIN ALG HC/BC L
 *   ALG rsa-sha256 | ed25519-sha256; L 1 adds l=; message on stdin (CRLF
 *   or LF), signed message (CRLF) on stdout.
 * Exit 0, or 1 with a message on stderr.
 */
#include <opendkim/dkim.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *slurp(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0, got;
	unsigned char *b = malloc(cap + 1);
	while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			unsigned char *b2 = realloc(b, (cap *= 2) + 1);
			if (!b2)
				free(b);
			b = b2;
		}
	}
	if (b)
		b[n] = 0;
	*len = n;
	return b;
}

/* LF -> CRLF, in a new buffer. */
static unsigned char *crlf(const unsigned char *in, size_t n, size_t *out_n)
{
	unsigned char *o = malloc(2 * n + 1);
	size_t k = 0;
	for (size_t i = 0; o && i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = in[i];
	}
	*out_n = k;
	return o;
}

static int die(const char *what, DKIM_STAT st)
{
	fprintf(stderr, "dkim_opendkim_sign: %s failed (%d: %s)\n", what, (int)st,
		dkim_getresultstr(st));
	return 1;
}

static int feed(DKIM *d, unsigned char *m, size_t n)
{
	unsigned char *p = m, *end = m + n;
	DKIM_STAT st;
	while (p < end && !(end - p >= 2 && p[0] == '\r' && p[1] == '\n')) {
		unsigned char *e = p;
		do { /* a field ends at a CRLF not followed by WSP */
			unsigned char *lf = memchr(e, '\n', (size_t)(end - e));
			e = lf ? lf + 1 : end;
		} while (e < end && (*e == ' ' || *e == '\t'));
		size_t len = (size_t)(e - p);
		if (len >= 2 && e[-2] == '\r')
			len -= 2;
		if ((st = dkim_header(d, p, len)) != DKIM_STAT_OK)
			return die("dkim_header", st);
		p = e;
	}
	if ((st = dkim_eoh(d)) != DKIM_STAT_OK)
		return die("dkim_eoh", st);
	if (p < end)
		p += 2;
	if (p < end && (st = dkim_body(d, p, (size_t)(end - p))) != DKIM_STAT_OK)
		return die("dkim_body", st);
	_Bool testkey;
	if ((st = dkim_eom(d, &testkey)) != DKIM_STAT_OK)
		return die("dkim_eom", st);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 7)
		return fprintf(stderr, "usage: %s KEY SEL DOMAIN ALG HC/BC L\n", argv[0]), 2;
	size_t klen, rn, n;
	FILE *kf = fopen(argv[1], "rb");
	unsigned char *key = kf ? slurp(kf, &klen) : NULL;
	if (kf)
		fclose(kf);
	unsigned char *raw = slurp(stdin, &rn);
	unsigned char *msg = raw ? crlf(raw, rn, &n) : NULL;
	if (!key || !msg)
		return fprintf(stderr, "dkim_opendkim_sign: cannot read input\n"), 1;
	dkim_alg_t alg = strcmp(argv[4], "ed25519-sha256") == 0 ? DKIM_SIGN_ED25519SHA256
								 : DKIM_SIGN_RSASHA256;
	dkim_canon_t hc = strncmp(argv[5], "relaxed/", 8) == 0 ? DKIM_CANON_RELAXED
							       : DKIM_CANON_SIMPLE;
	dkim_canon_t bc = strstr(argv[5], "/relaxed") ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	unsigned int flags = atoi(argv[6]) ? DKIM_LIBFLAGS_SIGNLEN : 0;
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
	DKIM_STAT st;
	DKIM *d = dkim_sign(lib, (const unsigned char *)"interop", NULL, key,
			    (unsigned char *)argv[2], (unsigned char *)argv[3], hc, bc, alg,
			    -1, &st);
	if (!d)
		return die("dkim_sign", st);
	/* libopendkim 2.11 hashes its own ed25519 DKIM-Signature folded one
	 * way and dkim_getsighdr_d() renders it folded another (the short b=
	 * wraps differently), so under simple header canonicalization the
	 * result verifies nowhere (dkimpy agrees). An unfolded header is
	 * the same both ways. RSA keeps the default folding. */
	if (alg == DKIM_SIGN_ED25519SHA256)
		dkim_set_margin(d, 0);
	if (feed(d, msg, n))
		return 1;
	unsigned char *hdr;
	size_t hlen, hn;
	if ((st = dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER ": "), &hdr, &hlen)) != DKIM_STAT_OK)
		return die("dkim_getsighdr_d", st);
	unsigned char *h2 = crlf(hdr, hlen, &hn);
	printf("%s: ", DKIM_SIGNHEADER);
	fwrite(h2, 1, hn, stdout);
	fputs("\r\n", stdout);
	fwrite(msg, 1, n, stdout);
	free(h2);
	dkim_free(d);
	dkim_close(lib);
	free(key);
	free(raw);
	free(msg);
	return 0;
}
