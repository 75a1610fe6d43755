/*
 * dkim_tags — the RFC 6376 §3.2 tag=value list, plus the small lexical
 * helpers every DKIM module shares (slices, FWS, base64, domain syntax).
 *
 * Owns: splitting a tag-list into (name, value) slices that point into the
 * caller's buffer (nothing is copied), the syntax checks of §3.2 (tag
 * names ALPHA *ALNUMPUNC, values of VALCHAR separated by FWS), and the
 * duplicate-tag rule (a tag that appears twice is an error).
 *
 * Invariants: every slice returned lies inside the input; values are
 * trimmed of surrounding FWS but may hold internal FWS (b=, h=, p=);
 * work is linear in the input and at most DKIM_TAGS_MAX tags are kept.
 */
#ifndef AUTHGATE_DKIM_TAGS_H
#define AUTHGATE_DKIM_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DKIM_TAGS_MAX 64

struct dkim_slice {
	const char *p;
	size_t n;
};

struct dkim_tag {
	struct dkim_slice name, value;
};

struct dkim_taglist {
	unsigned n;
	struct dkim_tag tags[DKIM_TAGS_MAX];
	/* 1 + the index in tags[] of the one-letter lower-case names a..z
	 * (0: absent), which are nearly all DKIM tags: lookups and the
	 * duplicate check for them take one step. */
	unsigned char letter[26];
};

enum dkim_tags_err {
	DKIM_TAGS_OK = 0,
	DKIM_TAGS_SYNTAX = -1,    /* not a tag-list */
	DKIM_TAGS_DUPLICATE = -2, /* a tag name appears twice */
	DKIM_TAGS_TOO_MANY = -3,  /* more than DKIM_TAGS_MAX tags */
};

/* Parse s[0..n) as a tag-list. Empty tag-specs (";;", trailing ";") are
 * tolerated, as every deployed verifier does. */
enum dkim_tags_err dkim_tags_parse(const char *s, size_t n,
				   struct dkim_taglist *out);
/* Tag `name` (name and value), or NULL when absent. */
const struct dkim_tag *dkim_tags_find(const struct dkim_taglist *t, const char *name);
/* The value of tag `name`, or NULL when absent. */
const struct dkim_slice *dkim_tags_get(const struct dkim_taglist *t,
				       const char *name);

/* Slice helpers. */
bool dkim_slice_eq(struct dkim_slice s, const char *lit);      /* exact */
bool dkim_slice_caseeq(struct dkim_slice s, const char *lit);  /* ASCII case-insensitive */
bool dkim_slices_caseeq(struct dkim_slice a, struct dkim_slice b);
struct dkim_slice dkim_slice_trim(struct dkim_slice s);        /* strip FWS both ends */
/* Next item of a `sep`-separated list, trimmed; false when none is left.
 * *pos starts at 0. */
bool dkim_slice_next_item(struct dkim_slice list, char sep, size_t *pos,
			  struct dkim_slice *item);
static inline bool dkim_is_fws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decode base64 that may hold FWS into out (at most cap bytes). Returns
 * the decoded length, or -1 on bad characters, bad padding or overflow. */
long dkim_base64_decode(struct dkim_slice in, unsigned char *out, size_t cap);

/* Decimal digits only (1..18 of them, so the value fits); false otherwise. */
bool dkim_slice_to_u64(struct dkim_slice s, uint64_t *out);

/* RFC 6376 domain-name / selector syntax: dot-separated labels of
 * letters, digits, '-' and '_' (selectors, DNS practice), no empty label,
 * no label starting or ending with '-', at most 253 octets. */
bool dkim_domain_valid(struct dkim_slice s);

#endif
