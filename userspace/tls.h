/*
 * tls — one server-side TLS endpoint over OpenSSL memory BIOs (the target
 * kernel has no kTLS): ciphertext comes in from the ring's recv and goes
 * out through its send; OpenSSL never touches the socket.
 *
 * Owns: the SSL object and its two BIOs, the handshake, the ciphertext
 * waiting to be sent, and the server context (certificate chain + key,
 * TLS 1.2 or later).
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

struct tls_conn *tls_conn_new(SSL_CTX *ctx);
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
/* Encrypt plaintext; returns the bytes taken or -1. */
ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t len);
/* Ciphertext waiting to be sent, and how much of it went out. */
const char *tls_conn_output(struct tls_conn *t, size_t *len);
void tls_conn_output_done(struct tls_conn *t, size_t n);

#endif
