/* Unit-test helper: run an authgate subcommand's function in this
 * process (cmd_stats(), cmd_block(), ...) with its standard output and
 * error caught, for tests that check the exact lines and exit status of
 * the CLI against docs/operations.md. Included by the tests that use it. */
#ifndef AUTHGATE_TEST_RUN_CMD_H
#define AUTHGATE_TEST_RUN_CMD_H

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

static char out[65536], err[4096];

static void slurp(FILE *f, char *buf, size_t size)
{
	rewind(f);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Run a subcommand with these arguments (NULL-terminated, the command's
 * name first), its stdout in out and its stderr in err; its exit status. */
static int run_cmd(int (*cmd)(int, char **), const char *const *args)
{
	char *argv[16];
	int argc = 0;
	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	FILE *o = tmpfile(), *e = tmpfile();
	assert_true(o && e);
	fflush(stdout);
	fflush(stderr);
	int so = dup(1), se = dup(2);
	dup2(fileno(o), 1);
	dup2(fileno(e), 2);
	optind = 0; /* getopt starts afresh */
	int rc = cmd(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	slurp(o, out, sizeof out);
	slurp(e, err, sizeof err);
	return rc;
}
#define CMD(cmd, ...) run_cmd(cmd, (const char *const[]){__VA_ARGS__, NULL})

#endif
