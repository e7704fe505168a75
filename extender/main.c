/*
 * flexplace - a Kubernetes scheduler extender that places GPU inference pods
 * by topology and capacity.  main() only dispatches to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "extender/cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    {"serve", fp_cmd_serve, "serve kube-scheduler's extender verbs over HTTP"},
    {"score", fp_cmd_score, "dry run: where would this pod go, and why?"},
    {"simulate", fp_cmd_simulate, "place N replicas one after another and report"},
    {"policy", fp_cmd_policy, "policy check FILE|DIR: validate a PlacementPolicy"},
    {"version", fp_cmd_version, "print the version"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: flexplace COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\nRun 'flexplace COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FP_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return FP_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        return fp_cmd_version(argc - 1, argv + 1);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "flexplace: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return FP_EXIT_USAGE;
}
