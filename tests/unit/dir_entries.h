/* Tests' helper: how many entries a directory holds, dot files aside. */
#ifndef AUTHGATE_TEST_DIR_ENTRIES_H
#define AUTHGATE_TEST_DIR_ENTRIES_H

#include <dirent.h>

static inline unsigned dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

#endif
