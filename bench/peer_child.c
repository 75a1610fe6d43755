/*
 * peer_child — see peer_child.h.
 */
#include "peer_child.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

double peer_child_run(const char *interpreter, const char *script, const char *zone,
		      const char *queries, double secs, char (*answers)[16], size_t nanswers)
{
	char dir[] = "/tmp/authgate-peer.XXXXXX";
	if (!mkdtemp(dir))
		return -1;
	char zpath[64], qpath[64], spath[64], cmd[400];
	snprintf(zpath, sizeof zpath, "%s/zone", dir);
	snprintf(qpath, sizeof qpath, "%s/queries", dir);
	snprintf(spath, sizeof spath, "%s/script", dir);
	double rate = -1;
	if (write_file(zpath, zone) == 0 && write_file(qpath, queries) == 0 &&
	    write_file(spath, script) == 0) {
		snprintf(cmd, sizeof cmd, "%s %s %s %s %.2f", interpreter, spath, zpath, qpath, secs);
		FILE *p = popen(cmd, "r");
		char line[256];
		size_t k = 0;
		while (p && fgets(line, sizeof line, p)) {
			if (strncmp(line, "answer ", 7) == 0 && k < nanswers)
				sscanf(line + 7, "%15s", answers[k++]);
			else if (strncmp(line, "rate ", 5) == 0)
				rate = atof(line + 5);
		}
		if (p && pclose(p) != 0)
			rate = -1;
	}
	unlink(zpath), unlink(qpath), unlink(spath), rmdir(dir);
	return rate;
}
