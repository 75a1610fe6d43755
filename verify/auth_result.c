/*
 * auth_result — see auth_result.h.
 */
#include "auth_result.h"

#include <string.h>

static const char *const names[AUTH_RESULT_COUNT] = {
	"none", "pass", "fail", "softfail", "neutral", "temperror", "permerror", "policy",
};

const char *auth_result_name(enum auth_result r)
{
	return (unsigned)r < AUTH_RESULT_COUNT ? names[r] : "?";
}

int auth_result_from_name(const char *name)
{
	for (int i = 0; i < AUTH_RESULT_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}
