/* Unit tests: tls — a client and a server endpoint talking through their
 * memory BIOs only (the bytes are moved by hand, as the rings move them):
 * handshake, application data both ways, and a handshake that must fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userspace/tls.h"

static char cert_path[] = "/tmp/test_tls_cert.XXXXXX";
static char key_path[] = "/tmp/test_tls_key.XXXXXX";

/* A throwaway P-256 key and a self-signed certificate, as PEM files. */
static int make_cert(void **state)
{
	(void)state;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (!k || !x)
		return -1;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"mx.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, k, EVP_sha256());
	int cfd = mkstemp(cert_path), kfd = mkstemp(key_path);
	FILE *cf = fdopen(cfd, "w"), *kf = fdopen(kfd, "w");
	int ok = cf && kf && PEM_write_X509(cf, x) && PEM_write_PrivateKey(kf, k, NULL, NULL, 0, NULL, NULL);
	fclose(cf);
	fclose(kf);
	X509_free(x);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

static int remove_cert(void **state)
{
	(void)state;
	unlink(cert_path);
	unlink(key_path);
	return 0;
}

/* Move every ciphertext byte `from` has queued into `to`; how many. */
static size_t pump(struct tls_conn *from, struct tls_conn *to)
{
	size_t n;
	const char *p = tls_conn_output(from, &n);
	if (n)
		assert_int_equal(tls_conn_feed(to, p, n), 0);
	tls_conn_output_done(from, n);
	return n;
}

/* Handshake a fresh client and server endpoint to completion. */
static void connect_pair(SSL_CTX *sctx, SSL_CTX *cctx, struct tls_conn **s, struct tls_conn **c)
{
	*s = tls_conn_new(sctx);
	*c = tls_conn_new_client(cctx);
	assert_non_null(*s);
	assert_non_null(*c);
	int cr = 0, sr = 0;
	for (int round = 0; round < 10 && !(cr == 1 && sr == 1); round++) {
		if (cr != 1)
			cr = tls_conn_handshake(*c);
		assert_true(cr >= 0);
		pump(*c, *s);
		if (sr != 1)
			sr = tls_conn_handshake(*s);
		assert_true(sr >= 0);
		pump(*s, *c);
	}
	assert_int_equal(cr, 1);
	assert_int_equal(sr, 1);
}

/* The fixture of the tests below: a server and a client context, and a
 * connection between them with its handshake done. */
struct pair {
	SSL_CTX *sctx, *cctx;
	struct tls_conn *s, *c;
};

static int pair_setup(void **state)
{
	static struct pair p;
	char err[300];
	p.sctx = tls_server_ctx(cert_path, key_path, err, sizeof err);
	p.cctx = tls_client_ctx(err, sizeof err);
	assert_non_null(p.sctx);
	assert_non_null(p.cctx);
	connect_pair(p.sctx, p.cctx, &p.s, &p.c);
	*state = &p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;
	tls_conn_free(p->s);
	tls_conn_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	return 0;
}

static void handshake_then_data_both_ways(void **state)
{
	struct pair *p = *state;
	struct tls_conn *s = p->s, *c = p->c;

	char buf[256];
	assert_int_equal(tls_conn_write(c, "EHLO client.test\r\n", 18), 18);
	assert_true(pump(c, s) > 18); /* framed and encrypted */
	ssize_t n = tls_conn_read(s, buf, sizeof buf);
	assert_int_equal(n, 18);
	assert_memory_equal(buf, "EHLO client.test\r\n", 18);
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 0); /* nothing more yet */

	assert_int_equal(tls_conn_write(s, "250 mx.test\r\n", 13), 13);
	pump(s, c);
	size_t got = 0;
	while (got < 13 && (n = tls_conn_read(c, buf + got, sizeof buf - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, 13);
	assert_memory_equal(buf, "250 mx.test\r\n", 13);

}

static void plaintext_instead_of_a_client_hello_fails_the_handshake(void **state)
{
	(void)state;
	char err[300];
	SSL_CTX *sctx = tls_server_ctx(cert_path, key_path, err, sizeof err);
	assert_non_null(sctx);
	struct tls_conn *s = tls_conn_new(sctx);
	const char junk[] = "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
	assert_int_equal(tls_conn_feed(s, junk, sizeof junk - 1), 0);
	assert_int_equal(tls_conn_handshake(s), -1);
	assert_non_null(tls_conn_failure(s)); /* OpenSSL's reason, for the log */
	tls_conn_free(s);
	SSL_CTX_free(sctx);
}

/* OpenSSL keeps errors per thread, and a worker runs many connections:
 * one client's failed handshake must not make another connection's
 * "nothing to read yet" look like a failure (a soak found that: good
 * STARTTLS sessions were closed beside clients that broke theirs). */
static void one_connections_failure_does_not_end_another(void **state)
{
	struct pair *p = *state;
	SSL_CTX *sctx = p->sctx, *cctx = p->cctx;
	struct tls_conn *s = p->s, *c = p->c;
	struct tls_conn *half = tls_conn_new(sctx), *hc = tls_conn_new_client(cctx);
	assert_int_equal(tls_conn_handshake(hc), 0);
	pump(hc, half);

	struct tls_conn *bad = tls_conn_new(sctx);
	const char junk[] = "\x16\x03\x01\x00\x05hello";
	assert_int_equal(tls_conn_feed(bad, junk, sizeof junk - 1), 0);
	assert_int_equal(tls_conn_handshake(bad), -1);
	assert_non_null(tls_conn_failure(bad));
	assert_true(strlen(tls_conn_failure(bad)) > 0); /* OpenSSL's words, e.g. "unexpected message" */

	char buf[64];
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 0); /* wants more, not -1 */
	assert_int_equal(tls_conn_handshake(half), 0);	      /* mid-handshake, not -1 */
	assert_int_equal(tls_conn_write(c, "NOOP\r\n", 6), 6);
	pump(c, s);
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 6);

	tls_conn_free(bad);
	tls_conn_free(half);
	tls_conn_free(hc);
}

static void the_client_refuses_a_server_that_is_not_tls(void **state)
{
	(void)state;
	char err[300];
	SSL_CTX *cctx = tls_client_ctx(err, sizeof err);
	struct tls_conn *c = tls_conn_new_client(cctx);
	assert_int_equal(tls_conn_handshake(c), 0); /* ClientHello queued */
	size_t n;
	tls_conn_output(c, &n);
	assert_true(n > 0);
	tls_conn_output_done(c, n);
	const char reply[] = "500 5.5.1 what is this?\r\n";
	assert_int_equal(tls_conn_feed(c, reply, sizeof reply - 1), 0);
	assert_int_equal(tls_conn_handshake(c), -1);
	tls_conn_free(c);
	SSL_CTX_free(cctx);
}

/* Ciphertext fed but not yet decrypted is something to read: the session
 * must call tls_conn_read() for it rather than wait for the socket. */
static void readable_sees_ciphertext_not_yet_read(void **state)
{
	struct pair *p = *state;
	struct tls_conn *s = p->s, *c = p->c;
	char buf[64];
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 0);
	assert_false(tls_conn_readable(s));
	assert_int_equal(tls_conn_write(c, "NOOP\r\n", 6), 6);
	pump(c, s);
	assert_true(tls_conn_readable(s));
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 6);
	assert_false(tls_conn_readable(s));
}

/* A record read only in part leaves the rest decrypted inside OpenSSL,
 * with no ciphertext left to feed: that is still something to read. */
static void readable_sees_the_rest_of_a_record_read_in_part(void **state)
{
	struct pair *p = *state;
	struct tls_conn *s = p->s, *c = p->c;
	char buf[64];
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 0);
	assert_int_equal(tls_conn_write(c, "RSET\r\nNOOP\r\n", 12), 12);
	pump(c, s);
	assert_int_equal(tls_conn_read(s, buf, 6), 6);
	assert_memory_equal(buf, "RSET\r\n", 6);
	assert_true(tls_conn_readable(s));
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 6);
	assert_memory_equal(buf, "NOOP\r\n", 6);
	assert_false(tls_conn_readable(s));
}

/* What other OpenSSL code on the worker's thread leaves in its error
 * queue (a DKIM key that does not decode, say) is not this connection's
 * failure. */
static void leave_an_error_in_the_thread_queue(void)
{
	const unsigned char junk[] = "not a key", *p = junk;
	assert_null(d2i_PUBKEY(NULL, &p, sizeof junk));
	assert_int_not_equal(ERR_peek_error(), 0);
}

static void errors_left_by_other_openssl_calls_do_not_end_a_connection(void **state)
{
	struct pair *p = *state;
	SSL_CTX *sctx = p->sctx, *cctx = p->cctx;
	struct tls_conn *s = p->s;
	struct tls_conn *half = tls_conn_new(sctx), *hc = tls_conn_new_client(cctx);
	assert_int_equal(tls_conn_handshake(hc), 0);
	pump(hc, half);

	char buf[64];
	leave_an_error_in_the_thread_queue();
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 0); /* wants more, not -1 */
	leave_an_error_in_the_thread_queue();
	assert_int_equal(tls_conn_handshake(half), 0); /* mid-handshake, not -1 */
	ERR_clear_error();

	tls_conn_free(half);
	tls_conn_free(hc);
}

/* A client of plain OpenSSL calls, for what a tls_conn never sends on its
 * own: a close_notify. */
struct raw_client {
	SSL *ssl;
	BIO *in, *out; /* owned by ssl */
};

static void raw_to_conn(struct raw_client *r, struct tls_conn *s)
{
	char buf[16384];
	int n;
	while ((n = BIO_read(r->out, buf, sizeof buf)) > 0)
		assert_int_equal(tls_conn_feed(s, buf, (size_t)n), 0);
}

static void conn_to_raw(struct tls_conn *s, struct raw_client *r)
{
	size_t n;
	const char *p = tls_conn_output(s, &n);
	if (n)
		assert_int_equal(BIO_write(r->in, p, (int)n), (int)n);
	tls_conn_output_done(s, n);
}

static void raw_connect(SSL_CTX *cctx, struct tls_conn *s, struct raw_client *r)
{
	r->ssl = SSL_new(cctx);
	r->in = BIO_new(BIO_s_mem());
	r->out = BIO_new(BIO_s_mem());
	SSL_set_bio(r->ssl, r->in, r->out);
	SSL_set_connect_state(r->ssl);
	int cr = 0, sr = 0;
	for (int round = 0; round < 10 && !(cr == 1 && sr == 1); round++) {
		if (cr != 1)
			cr = SSL_do_handshake(r->ssl);
		raw_to_conn(r, s);
		if (sr != 1)
			sr = tls_conn_handshake(s);
		assert_true(sr >= 0);
		conn_to_raw(s, r);
	}
	assert_int_equal(cr, 1);
	assert_int_equal(sr, 1);
}

/* The peer's close_notify ends the connection as a close, not a failure:
 * tls_conn_failure() says NULL, and the log has no reason to give. */
static void a_close_notify_ends_the_connection_without_a_failure(void **state)
{
	(void)state;
	char err[300];
	SSL_CTX *sctx = tls_server_ctx(cert_path, key_path, err, sizeof err);
	SSL_CTX *cctx = tls_client_ctx(err, sizeof err);
	struct tls_conn *s = tls_conn_new(sctx);
	struct raw_client r;
	raw_connect(cctx, s, &r);
	char buf[64];
	assert_int_equal(SSL_write(r.ssl, "QUIT\r\n", 6), 6);
	raw_to_conn(&r, s);
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), 6);
	SSL_shutdown(r.ssl);
	raw_to_conn(&r, s);
	assert_int_equal(tls_conn_read(s, buf, sizeof buf), -1);
	assert_null(tls_conn_failure(s));
	SSL_free(r.ssl);
	tls_conn_free(s);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* A key of another type than the certificate's (Ed25519 beside a P-256
 * certificate) loads into a slot of its own, with no certificate to check
 * it against: the context must still be refused, not serve a certificate
 * without its key. */
static void a_key_of_another_type_than_the_certificate_is_refused(void **state)
{
	(void)state;
	char other[] = "/tmp/test_tls_ed25519.XXXXXX", err[300] = "";
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	int fd = mkstemp(other);
	FILE *f = fdopen(fd, "w");
	assert_non_null(k);
	assert_non_null(f);
	assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	EVP_PKEY_free(k);
	SSL_CTX *ctx = tls_server_ctx(cert_path, other, err, sizeof err);
	unlink(other);
	assert_null(ctx);
	assert_non_null(strstr(err, "does not match"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(handshake_then_data_both_ways, pair_setup, pair_teardown),
		cmocka_unit_test(plaintext_instead_of_a_client_hello_fails_the_handshake),
		cmocka_unit_test_setup_teardown(one_connections_failure_does_not_end_another, pair_setup, pair_teardown),
		cmocka_unit_test(the_client_refuses_a_server_that_is_not_tls),
		cmocka_unit_test_setup_teardown(readable_sees_ciphertext_not_yet_read, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(readable_sees_the_rest_of_a_record_read_in_part, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(errors_left_by_other_openssl_calls_do_not_end_a_connection, pair_setup, pair_teardown),
		cmocka_unit_test(a_close_notify_ends_the_connection_without_a_failure),
		cmocka_unit_test(a_key_of_another_type_than_the_certificate_is_refused),
	};
	return cmocka_run_group_tests(tests, make_cert, remove_cert);
}
