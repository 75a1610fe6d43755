/*
 * loadgen_msgs — the messages a bench/loadgen run sends, ready for the
 * wire: each file's DATA payload (CRLF line ends, dot-stuffed, ended by
 * ".\r\n") and its envelope (MAIL, RCPT, DATA lines), built once before
 * the run so sending costs no work.
 *
 * Owns: the message set and every buffer in it. A corpus directory is read
 * in the order of its MANIFEST (bench/corpus.py: "NAME SHA256 EXPECT" per
 * line), or of its *.eml names sorted when there is none, so the i-th
 * transaction of a run always sends the same file. The envelope comes from
 * the message's From: and To: addresses unless the caller fixes it.
 */
#ifndef AUTHGATE_LOADGEN_MSGS_H
#define AUTHGATE_LOADGEN_MSGS_H

#include <stddef.h>

#define MSG_ADDR_MAX 256

struct lg_msg {
	char name[128];     /* file name without the directory */
	char *envelope;     /* "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n" */
	size_t mail_len;    /* length of the MAIL line, CRLF included */
	size_t rcpt_len;    /* and of the RCPT line */
	char *data;         /* dot-stuffed payload ending in ".\r\n" */
	size_t data_len;
};

struct lg_msgset {
	struct lg_msg *v;
	size_t n, cap;
};

/* Add one message file. from/to fix the envelope; NULL takes the address
 * of the From: (To:) header, or fallback_from (fallback_to) without one.
 * 0, or -errno. */
int lg_msgset_add_file(struct lg_msgset *set, const char *path, const char *from,
		       const char *to, const char *fallback_from, const char *fallback_to);
/* Every message of a corpus directory, in MANIFEST order. 0, -ENOENT for
 * an empty directory, or another -errno. */
int lg_msgset_add_dir(struct lg_msgset *set, const char *dir, const char *from, const char *to,
		      const char *fallback_from, const char *fallback_to);
void lg_msgset_free(struct lg_msgset *set);

/* DATA payload of raw message bytes: bare LF becomes CRLF, a line starting
 * with "." gets another, a last line without its end gets one, then
 * ".\r\n". out must hold 2 * n + 5 bytes; returns the length written. */
size_t lg_msg_stuff(const char *raw, size_t n, char *out);
/* The address in header field `field` ("From", case-insensitive) of the
 * header section of raw: the part in <...>, else the bare field value
 * trimmed, unfolded. 0, or -ENOENT without the field, -ENAMETOOLONG when
 * it does not fit in out. */
int lg_msg_header_addr(const char *raw, size_t n, const char *field, char *out, size_t outlen);

#endif
