/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee: command-line front end to libcmee. Uses only the public API (<cmee.h>).
 * The command line is a contract that scripts depend on; docs/cli.md describes it. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* signal(SIGPIPE) */
#endif

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char main_usage[] = "usage: cmee <command> [options]\n"
                                 "       cmee --help | --version\n";

static const char main_help[] = "\n"
                                "Commands:\n"
                                "  gen        print generated candles of one symbol, oldest first\n"
                                "  ind        compute one technical indicator over gen's CSV\n"
                                "  analyze    trend, signals and indicators of gen's CSV as JSON\n"
                                "  book       print the order book of one symbol at one moment\n"
                                "  trades     print the trades of one symbol, oldest first\n"
                                "  report     the results report of a stored session as JSON\n"
                                "  replay     replay a stored session and compare, bit for bit\n"
                                "  symbols    list the symbol registry as CSV\n"
                                "\n"
                                "Run 'cmee COMMAND --help' for the options of a command.\n"
                                "Exit status: 0 success, 1 failure, 2 bad arguments.\n";

static const char symbols_usage[] = "usage: cmee symbols\n";

static const char symbols_help[] =
    "\n"
    "Print the symbol registry as CSV, in registry order, with the header\n"
    "symbol,class,seed_price,tick_size,precision,volatility\n";

static int cmd_symbols(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cmee_market *m;
    int c, rc = CLI_EXIT_OK;

    optind = 0; /* reinitialise getopt after the top-level parse */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c != 'h')
            return cli_getopt_error(symbols_usage, c, argv);
        cli_puts(symbols_usage);
        cli_puts(symbols_help);
        return CLI_EXIT_OK;
    }
    if (optind < argc)
        return cli_usage_error(symbols_usage, "unexpected argument '%s'", argv[optind]);

    /* The registry does not depend on the seed. */
    if (!(m = cli_market_new(CLI_DEFAULT_SEED)))
        return CLI_EXIT_FAIL;
    cli_puts("symbol,class,seed_price,tick_size,precision,volatility\n");
    for (size_t i = 0; i < cmee_market_symbol_count(m); i++) {
        cmee_symbol_spec s;
        char seed[CLI_NUM_MAX], tick[CLI_NUM_MAX], vol[CLI_NUM_MAX], line[160];
        cmee_status st = cmee_market_symbol_at(m, i, &s);

        if (st != CMEE_OK) {
            rc = cli_lib_error(m, st);
            break;
        }
        const char *cls = cmee_asset_class_name(s.asset_class);
        cli_fmt_double(seed, s.seed_price);
        cli_fmt_double(tick, s.tick_size);
        cli_fmt_double(vol, s.volatility);
        snprintf(line, sizeof line, "%s,%s,%s,%s,%d,%s\n", s.symbol, cls ? cls : "other", seed,
                 tick, s.precision, vol);
        if (!cli_puts(line))
            break;
    }
    cmee_market_free(m);
    return rc;
}

static int dispatch(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    /* '+' stops at the first non-option: everything after the command belongs to it. */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cli_puts(main_usage);
            cli_puts(main_help);
            return CLI_EXIT_OK;
        case 'V':
            cli_puts(cmee_version());
            cli_puts("\n");
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(main_usage, c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error(main_usage,
                               "missing command (gen, ind, analyze, book, trades, report, replay "
                               "or symbols)");

    const char *cmd = argv[optind];
    if (strcmp(cmd, "gen") == 0)
        return cli_cmd_gen(argc - optind, argv + optind);
    if (strcmp(cmd, "ind") == 0)
        return cli_cmd_ind(argc - optind, argv + optind);
    if (strcmp(cmd, "analyze") == 0)
        return cli_cmd_analyze(argc - optind, argv + optind);
    if (strcmp(cmd, "book") == 0)
        return cli_cmd_book(argc - optind, argv + optind);
    if (strcmp(cmd, "trades") == 0)
        return cli_cmd_trades(argc - optind, argv + optind);
    if (strcmp(cmd, "report") == 0)
        return cli_cmd_report(argc - optind, argv + optind);
    if (strcmp(cmd, "replay") == 0)
        return cli_cmd_replay(argc - optind, argv + optind);
    if (strcmp(cmd, "symbols") == 0)
        return cmd_symbols(argc - optind, argv + optind);
    return cli_usage_error(main_usage,
                           "unknown command '%s' (expected gen, ind, analyze, book, trades, "
                           "report, replay or symbols)",
                           cmd);
}

int main(int argc, char **argv)
{
    /* One large buffer: gen can print millions of lines, and a write per line would dominate. */
    static char outbuf[1 << 18];

    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    /* A reader that stops early (`cmee gen ... | head`) must not kill us or cause an error
     * storm: the failed write returns EPIPE instead, and cli_output_close() exits quietly. */
    signal(SIGPIPE, SIG_IGN);

    int rc = dispatch(argc, argv);
    int out = cli_output_close();
    return rc != CLI_EXIT_OK ? rc : out;
}
