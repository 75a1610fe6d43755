/*
 * auth_result — the result vocabulary the three checks share (RFC 8601
 * §2.7 result names), so policy and header rendering need not know each
 * check's own types. SPF and Sender ID never yield POLICY; DKIM never
 * yields SOFTFAIL.
 */
#ifndef AUTHGATE_AUTH_RESULT_H
#define AUTHGATE_AUTH_RESULT_H

enum auth_result {
	AUTH_NONE,
	AUTH_PASS,
	AUTH_FAIL,
	AUTH_SOFTFAIL,
	AUTH_NEUTRAL,
	AUTH_TEMPERROR,
	AUTH_PERMERROR,
	AUTH_POLICY,
};

#define AUTH_RESULT_COUNT 8

const char *auth_result_name(enum auth_result r);
/* -1 when the name is not a result. */
int auth_result_from_name(const char *name);

#endif
