/* libFuzzer: the configuration parser. Errors must name file and line. */
#include "userspace/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c;
	char err[256];
	if (config_parse((const char *)data, size, "f.conf", &c, err, sizeof err) < 0 &&
	    strncmp(err, "f.conf:", 7) != 0)
		abort();
	return 0;
}
