/*
 * tls — one TLS endpoint over OpenSSL memory BIOs (the target kernel has
 * no kTLS): ciphertext comes in from the ring's recv and goes out through
 * its send; OpenSSL never touches the socket. The daemon is the server
 * side; bench/loadgen uses the client side to drive STARTTLS load.
 *
 * Owns: the SSL object and its two BIOs, the handshake, the ciphertext
 * waiting to be sent, the server context (certificate chain + key, TLS 1.2
 * or later) and the client context (TLS 1.2 or later, no verification).
 */
#ifndef AUTHGATE_TLS_H
#define AUTHGATE_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_conn;

/* NULL with a one-line reason in err. */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);

/* A client context that does not verify the server: only for talking to
 * a test or bench server on loopback with a throwaway certificate. */
SSL_CTX *tls_client_ctx(char *err, size_t errlen);

/* The server side of a connection (accept state) ... */
struct tls_conn *tls_conn_new(SSL_CTX *ctx);
/* ... and the client side (connect state; the first tls_conn_handshake()
 * queues the ClientHello in the output). */
struct tls_conn *tls_conn_new_client(SSL_CTX *ctx);
void tls_conn_free(struct tls_conn *t);

/* Ciphertext received. 0, or -1 when it cannot be taken. */
int tls_conn_feed(struct tls_conn *t, const void *cipher, size_t n);
/* 1 handshake complete, 0 wants more ciphertext, -1 failed. */
int tls_conn_handshake(struct tls_conn *t);
/* Plaintext out of the connection: > 0 bytes, 0 wants more ciphertext,
 * -1 closed or failed. */
ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t len);
/* Plaintext decrypted but not yet read, or ciphertext not yet decrypted. */
bool tls_conn_readable(struct tls_conn *t);
/* After a -1 from the handshake or a read: why, in OpenSSL's words
 * ("unexpected message"), or NULL when the peer closed with close_notify. */
const char *tls_conn_failure(const struct tls_conn *t);
/* Encrypt plaintext; returns the bytes taken or -1. */
ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t len);
/* Ciphertext waiting to be sent, and how much of it went out. */
const char *tls_conn_output(struct tls_conn *t, size_t *len);
void tls_conn_output_done(struct tls_conn *t, size_t n);
/* A send reads tls_conn_output()'s bytes until it completes: while
 * pinned, records added meanwhile (an alert, a ticket) never move them. */
void tls_conn_output_pin(struct tls_conn *t, bool pinned);

#endif
