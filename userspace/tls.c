/*
 * tls — see tls.h.
 */
#include "tls.h"

#include "pinbuf.h"

#include <openssl/err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_conn {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	struct pinbuf out; /* a send in flight may be reading it (tls_conn_output_pin) */
	size_t outlen, outoff;
	const char *failure; /* why it ended, NULL for a close_notify (tls_conn_failure) */
};

SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *what = NULL;
	if (!ctx)
		what = "cannot create a TLS context";
	else if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		what = "cannot require TLS 1.2";
	else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		what = cert;
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		what = key;
	else if (SSL_CTX_check_private_key(ctx) != 1)
		what = "tls.key does not match tls.cert";
	if (!what)
		return ctx;
	char ossl[200];
	ERR_error_string_n(ERR_get_error(), ossl, sizeof ossl);
	snprintf(err, errlen, "%s: %s", what, ossl);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *tls_client_ctx(char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	char ossl[200];
	ERR_error_string_n(ERR_get_error(), ossl, sizeof ossl);
	snprintf(err, errlen, "cannot create a TLS client context: %s", ossl);
	SSL_CTX_free(ctx);
	return NULL;
}

static struct tls_conn *conn_new(SSL_CTX *ctx, bool server)
{
	struct tls_conn *t = calloc(1, sizeof *t);
	if (!t || !(t->ssl = SSL_new(ctx)) || !(t->rbio = BIO_new(BIO_s_mem())) ||
	    !(t->wbio = BIO_new(BIO_s_mem()))) {
		if (t) {
			BIO_free(t->rbio);
			SSL_free(t->ssl);
		}
		free(t);
		return NULL;
	}
	BIO_set_mem_eof_return(t->rbio, -1); /* empty means "wait", not EOF */
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	if (server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	return t;
}

struct tls_conn *tls_conn_new(SSL_CTX *ctx)
{
	return conn_new(ctx, true);
}

struct tls_conn *tls_conn_new_client(SSL_CTX *ctx)
{
	return conn_new(ctx, false);
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	pinbuf_free(&t->out);
	free(t);
}

int tls_conn_feed(struct tls_conn *t, const void *cipher, size_t n)
{
	return BIO_write(t->rbio, cipher, (int)n) == (int)n ? 0 : -1;
}

/* Move whatever OpenSSL wrote into the memory BIO to our send buffer. */
static void collect_output(struct tls_conn *t)
{
	size_t pending;
	while ((pending = BIO_ctrl_pending(t->wbio)) > 0) {
		if (t->outoff && t->outoff == t->outlen)
			t->outoff = t->outlen = 0;
		if (!pinbuf_reserve(&t->out, t->outlen, t->outlen + pending, 16384, SIZE_MAX / 2))
			return;
		int got = BIO_read(t->wbio, t->out.p + t->outlen, (int)pending);
		if (got <= 0)
			return;
		t->outlen += (size_t)got;
	}
}

/* SSL_get_error() reads the thread's error queue, which every connection
 * of a worker shares: what one client's failed handshake left there would
 * make the next "wants more bytes" of another connection look fatal. So
 * the queue is emptied before each operation, and after a failure once
 * its reason is kept. */
static int want_more(struct tls_conn *t, int r)
{
	int e = SSL_get_error(t->ssl, r);
	collect_output(t);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		t->failure = NULL;
	} else {
		const char *why = ERR_reason_error_string(ERR_peek_last_error());
		t->failure = why ? why : e == SSL_ERROR_SYSCALL ? "the connection ended inside a record"
								: "TLS protocol error";
	}
	ERR_clear_error();
	return -1;
}

const char *tls_conn_failure(const struct tls_conn *t)
{
	return t->failure;
}

int tls_conn_handshake(struct tls_conn *t)
{
	ERR_clear_error();
	int r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		collect_output(t);
		return 1;
	}
	return want_more(t, r);
}

ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t len)
{
	ERR_clear_error();
	int r = SSL_read(t->ssl, buf, (int)(len > 0x40000000 ? 0x40000000 : len));
	if (r > 0) {
		collect_output(t);
		return r;
	}
	return want_more(t, r);
}

bool tls_conn_readable(struct tls_conn *t)
{
	return SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(t->rbio) > 0;
}

ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t len)
{
	ERR_clear_error();
	int r = SSL_write(t->ssl, buf, (int)len);
	collect_output(t);
	if (r <= 0)
		ERR_clear_error();
	return r > 0 ? r : -1;
}

const char *tls_conn_output(struct tls_conn *t, size_t *len)
{
	*len = t->outlen - t->outoff;
	return t->out.p + t->outoff;
}

void tls_conn_output_pin(struct tls_conn *t, bool pinned)
{
	pinbuf_set_pinned(&t->out, pinned);
}

void tls_conn_output_done(struct tls_conn *t, size_t n)
{
	t->outoff += n;
	if (t->outoff >= t->outlen)
		t->outoff = t->outlen = 0;
}
