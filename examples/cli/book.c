/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee book: the synthetic L2 order book of one symbol at one moment, as CSV (cmee/book.h). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* stpcpy */
#endif

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char book_usage[] =
    "usage: cmee book --symbol SYM [--at TIME] [--depth N] [--seed N]\n";

static const char book_help[] =
    "\n"
    "Print the synthetic order book of one symbol at one moment: the book of the last tick\n"
    "at or before --at. CSV with the header side,level,price,size; the bids, then the asks,\n"
    "each from level 1 (the touch) outwards.\n"
    "\n"
    "  --symbol SYM     a symbol listed by 'cmee symbols', e.g. BTCUSD (case-sensitive)\n"
    "  --at TIME        the moment (default: now)\n"
    "  --depth N        levels per side, 1 to 50 (default 10); a price a few ticks above\n"
    "                   zero may have fewer bid levels\n"
    "  --seed N         market seed, 0 to 18446744073709551615 (default 42)\n"
    "  -h, --help       show this help\n"
    "\n"
    "TIME is an ISO-8601 UTC time (2030-03-01T00:00:00Z, optionally with .sss before the Z)\n"
    "or milliseconds since the Unix epoch. The same --seed gives the market of 'cmee gen'.\n"
    "Exit status: 0 success, 1 failure (e.g. unknown symbol, time outside the series),\n"
    "2 bad arguments.\n";

#define BOOK_DEFAULT_DEPTH 10

/* Long-option values in the order of book_options[], so that the value finds the name. */
enum { OPT_SYMBOL = 256, OPT_AT, OPT_DEPTH, OPT_SEED, OPT_LAST_ };

typedef struct book_args {
    const char *symbol;
    int64_t at;
    int depth;
    uint64_t seed;
    bool given[OPT_LAST_ - OPT_SYMBOL];
} book_args;

#define GIVEN(a, opt) ((a)->given[(opt)-OPT_SYMBOL])

static const struct option book_options[] = {
    {"symbol", required_argument, NULL, OPT_SYMBOL},
    {"at", required_argument, NULL, OPT_AT},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* As gen_parse(): 0, CLI_EXIT_USAGE after reporting, or -1 for --help (already printed). */
static int book_parse(int argc, char **argv, book_args *a)
{
    int c, rc;

    memset(a, 0, sizeof *a);
    a->seed = CLI_DEFAULT_SEED;
    a->depth = BOOK_DEFAULT_DEPTH;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", book_options, NULL)) != -1) {
        if (c >= OPT_SYMBOL && c < OPT_LAST_) {
            if (GIVEN(a, c))
                return cli_usage_error(book_usage, "option --%s given more than once",
                                       book_options[c - OPT_SYMBOL].name);
            GIVEN(a, c) = true;
        }

        switch (c) {
        case 'h':
            cli_puts(book_usage);
            cli_puts(book_help);
            return -1;
        case OPT_SYMBOL:
            a->symbol = optarg;
            break;
        case OPT_AT:
            if ((rc = cli_time_opt(book_usage, "at", optarg, &a->at)) != 0)
                return rc;
            break;
        case OPT_DEPTH: {
            uint64_t n;
            if (!cli_parse_u64(optarg, &n) || n == 0 || n > CMEE_BOOK_MAX_DEPTH)
                return cli_usage_error(book_usage,
                                       "--depth: expected a whole number from 1 to %d, got '%s'",
                                       CMEE_BOOK_MAX_DEPTH, optarg);
            a->depth = (int)n;
            break;
        }
        case OPT_SEED:
            if ((rc = cli_seed_opt(book_usage, optarg, &a->seed)) != 0)
                return rc;
            break;
        default:
            return cli_getopt_error(book_usage, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(book_usage, "unexpected argument '%s'", argv[optind]);
    if (!GIVEN(a, OPT_SYMBOL))
        return cli_usage_error(book_usage, "missing required option --symbol");
    if (!GIVEN(a, OPT_AT))
        a->at = cli_now_ms();
    return CLI_EXIT_OK;
}

/* Write one side's levels; false once stdout fails (cli_output_close() reports it). */
static bool print_side(const char *side, const cmee_book_level *lv, size_t n)
{
    char line[48 + 2 * CLI_NUM_MAX];

    for (size_t i = 0; i < n; i++) {
        char *p = stpcpy(line, side);
        *p++ = ',';
        p += cli_int64(p, (int64_t)i + 1);
        *p++ = ',';
        p += cli_fmt_double(p, lv[i].price);
        *p++ = ',';
        p += cli_fmt_double(p, lv[i].size);
        *p++ = '\n';
        if (!cli_write(line, (size_t)(p - line)))
            return false;
    }
    return true;
}

int cli_cmd_book(int argc, char **argv)
{
    book_args a;
    cmee_market *m;
    cmee_book b;
    int rc = book_parse(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (!(m = cli_market_new(a.seed)))
        return CLI_EXIT_FAIL;
    cmee_status st = cmee_market_book(m, a.symbol, a.at, a.depth, &b);
    if (st != CMEE_OK) {
        rc = cli_lib_error(m, st);
    } else if (cli_puts("side,level,price,size\n") && print_side("bid", b.bids, b.nbids)) {
        print_side("ask", b.asks, b.nasks);
    }
    cmee_market_free(m);
    return rc;
}
