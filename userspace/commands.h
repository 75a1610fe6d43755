/*
 * commands — one entry point per subcommand (userspace/cmd_*.c). Each takes
 * argv with argv[0] = the subcommand's name and returns the exit status.
 */
#ifndef AUTHGATE_COMMANDS_H
#define AUTHGATE_COMMANDS_H

int cmd_lookup(int argc, char **argv);
int cmd_spf(int argc, char **argv);
int cmd_dkim(int argc, char **argv);
int cmd_senderid(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_verdicts(int argc, char **argv);
int cmd_block(int argc, char **argv);

#endif
