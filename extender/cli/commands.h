/*
 * extender/cli/commands.h - the flexplace subcommands.
 *
 * Each takes the arguments after its own name (argv[0] is the command name,
 * as for a main()) and returns the process exit status.  Exit codes shared
 * by every command: 0 success, 1 runtime failure, 2 usage or input error;
 * commands document any further codes in their --help and in
 * extender/cli/README.md.
 */
#ifndef FP_EXTENDER_COMMANDS_H
#define FP_EXTENDER_COMMANDS_H

#define FP_EXIT_OK 0
#define FP_EXIT_FAILURE 1
#define FP_EXIT_USAGE 2

int fp_cmd_serve(int argc, char **argv);
int fp_cmd_score(int argc, char **argv);
int fp_cmd_simulate(int argc, char **argv);
int fp_cmd_policy(int argc, char **argv);
int fp_cmd_version(int argc, char **argv);

#endif
