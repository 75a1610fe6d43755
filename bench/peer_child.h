/*
 * peer_child — a baseline engine in a scripting language (pyspf in
 * Python, Mail::SPF in Perl), run in a child process on the same data as
 * authgate: the script gets three arguments, a zone file (one record per
 * line: owner TAB type TAB value), a query file (one query per line, its
 * fields separated by TABs) and the seconds to measure for; it prints
 * "answer RESULT" per query in order, then "rate CHECKS_PER_SECOND".
 *
 * Owns: the scratch directory with those files, the child, reading its
 * output back.
 */
#ifndef AUTHGATE_PEER_CHILD_H
#define AUTHGATE_PEER_CHILD_H

#include <stddef.h>

/* Checks per second, or -1 if the peer could not run (answers then stay
 * as they were); answers[i] gets the peer's result for query i. */
double peer_child_run(const char *interpreter, const char *script, const char *zone,
		      const char *queries, double secs, char (*answers)[16], size_t nanswers);

#endif
