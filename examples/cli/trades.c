/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee trades: the trade tape of one symbol, oldest first, as CSV (cmee/book.h). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* stpcpy */
#endif

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char trades_usage[] =
    "usage: cmee trades --symbol SYM (--count N [--end TIME] | --from TIME --to TIME)\n"
    "                   [--seed N]\n";

static const char trades_help[] =
    "\n"
    "Print the trades of one symbol, oldest first, as CSV with the header\n"
    "time,price,size,side (time in ms UTC, side buy or sell). With the same --seed the trades\n"
    "inside each 1m candle of 'cmee gen' sum to its volume, the first is at its open and the\n"
    "last at its close.\n"
    "\n"
    "  --symbol SYM     a symbol listed by 'cmee symbols', e.g. BTCUSD (case-sensitive)\n"
    "  --count N        the last N trades before --end (1 to 1000000)\n"
    "  --end TIME       end (exclusive) of the --count window (default: now)\n"
    "  --from TIME      the trades whose time is in [--from, --to), at most 31 days\n"
    "  --to TIME\n"
    "  --seed N         market seed, 0 to 18446744073709551615 (default 42)\n"
    "  -h, --help       show this help\n"
    "\n"
    "TIME is an ISO-8601 UTC time (2030-03-01T00:00:00Z, optionally with .sss before the Z)\n"
    "or milliseconds since the Unix epoch.\n"
    "Exit status: 0 success, 1 failure (e.g. unknown symbol, time outside the series),\n"
    "2 bad arguments.\n";

/* The library's limits for one query (include/cmee/book.h: cmee_market_trades_last() takes
 * 1 to 1,000,000 trades, cmee_market_trades() at most 31 days). Checked here too, so that
 * they are usage errors like gen's --count limit. */
#define TRADES_MAX_COUNT UINT64_C(1000000)
#define TRADES_MAX_SPAN_MS (INT64_C(31) * 86400000)
#define MINUTE_MS 60000

enum { OPT_SYMBOL = 256, OPT_COUNT, OPT_END, OPT_FROM, OPT_TO, OPT_SEED, OPT_LAST_ };

typedef struct trades_args {
    const char *symbol;
    size_t count;
    int64_t end, from, to;
    uint64_t seed;
    bool given[OPT_LAST_ - OPT_SYMBOL];
} trades_args;

#define GIVEN(a, opt) ((a)->given[(opt)-OPT_SYMBOL])

static const struct option trades_options[] = {
    {"symbol", required_argument, NULL, OPT_SYMBOL},
    {"count", required_argument, NULL, OPT_COUNT},
    {"end", required_argument, NULL, OPT_END},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* As gen_parse(): 0, CLI_EXIT_USAGE after reporting, or -1 for --help (already printed). */
static int trades_parse(int argc, char **argv, trades_args *a)
{
    int c, rc;

    memset(a, 0, sizeof *a);
    a->seed = CLI_DEFAULT_SEED;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", trades_options, NULL)) != -1) {
        if (c >= OPT_SYMBOL && c < OPT_LAST_) {
            if (GIVEN(a, c))
                return cli_usage_error(trades_usage, "option --%s given more than once",
                                       trades_options[c - OPT_SYMBOL].name);
            GIVEN(a, c) = true;
        }

        switch (c) {
        case 'h':
            cli_puts(trades_usage);
            cli_puts(trades_help);
            return -1;
        case OPT_SYMBOL:
            a->symbol = optarg;
            break;
        case OPT_COUNT: {
            uint64_t n;
            if (!cli_parse_u64(optarg, &n) || n == 0 || n > TRADES_MAX_COUNT)
                return cli_usage_error(trades_usage,
                                       "--count: expected a whole number from 1 to %llu, got '%s'",
                                       (unsigned long long)TRADES_MAX_COUNT, optarg);
            a->count = (size_t)n;
            break;
        }
        case OPT_END:
            if ((rc = cli_time_opt(trades_usage, "end", optarg, &a->end)) != 0)
                return rc;
            break;
        case OPT_FROM:
            if ((rc = cli_time_opt(trades_usage, "from", optarg, &a->from)) != 0)
                return rc;
            break;
        case OPT_TO:
            if ((rc = cli_time_opt(trades_usage, "to", optarg, &a->to)) != 0)
                return rc;
            break;
        case OPT_SEED:
            if ((rc = cli_seed_opt(trades_usage, optarg, &a->seed)) != 0)
                return rc;
            break;
        default:
            return cli_getopt_error(trades_usage, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(trades_usage, "unexpected argument '%s'", argv[optind]);
    if (!GIVEN(a, OPT_SYMBOL))
        return cli_usage_error(trades_usage, "missing required option --symbol");
    if (GIVEN(a, OPT_COUNT) && (GIVEN(a, OPT_FROM) || GIVEN(a, OPT_TO)))
        return cli_usage_error(trades_usage, "--count cannot be combined with --from/--to");
    if (GIVEN(a, OPT_FROM) != GIVEN(a, OPT_TO))
        return cli_usage_error(trades_usage, "--%s requires --%s",
                               GIVEN(a, OPT_FROM) ? "from" : "to",
                               GIVEN(a, OPT_FROM) ? "to" : "from");
    if (GIVEN(a, OPT_END) && !GIVEN(a, OPT_COUNT))
        return cli_usage_error(trades_usage, "--end only applies to --count");
    if (!GIVEN(a, OPT_COUNT) && !GIVEN(a, OPT_FROM))
        return cli_usage_error(trades_usage, "one of --count or --from/--to is required");
    if (GIVEN(a, OPT_FROM)) {
        if (a->from >= a->to)
            return cli_usage_error(trades_usage, "--from must be before --to");
        /* In unsigned arithmetic: the difference of two int64 can overflow. */
        if ((uint64_t)a->to - (uint64_t)a->from > (uint64_t)TRADES_MAX_SPAN_MS)
            return cli_usage_error(trades_usage,
                                   "--from/--to: at most 31 days (%lld ms) apart, got %llu ms",
                                   (long long)TRADES_MAX_SPAN_MS,
                                   (unsigned long long)((uint64_t)a->to - (uint64_t)a->from));
    }
    if (GIVEN(a, OPT_COUNT) && !GIVEN(a, OPT_END))
        a->end = cli_now_ms();
    return CLI_EXIT_OK;
}

/* Write the trades; stops early if stdout fails (cli_output_close() reports it). */
static void trades_print(const cmee_trade *t, size_t n)
{
    char line[48 + 2 * CLI_NUM_MAX];

    if (!cli_puts("time,price,size,side\n"))
        return;
    for (size_t i = 0; i < n; i++) {
        const char *side = cmee_aggressor_name(t[i].side);
        char *p = line;
        p += cli_int64(p, t[i].time);
        *p++ = ',';
        p += cli_fmt_double(p, t[i].price);
        *p++ = ',';
        p += cli_fmt_double(p, t[i].size);
        *p++ = ',';
        p = stpcpy(p, side ? side : "?");
        *p++ = '\n';
        if (!cli_write(line, (size_t)(p - line)))
            return;
    }
}

int cli_cmd_trades(int argc, char **argv)
{
    trades_args a;
    cmee_market *m;
    cmee_trade *buf = NULL;
    size_t cap, n = 0;
    cmee_status st;
    int rc = trades_parse(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (!(m = cli_market_new(a.seed)))
        return CLI_EXIT_FAIL;

    if (GIVEN(&a, OPT_COUNT)) {
        cap = a.count;
    } else {
        /* Room for a trade at every tick of every minute the range touches: the library then
         * fills the buffer in one pass instead of generating the range twice (count, then
         * fill). At most 31 days x 600 ticks a minute; 2.7 million trades for the registry's
         * 60. An unknown symbol gets a buffer of 1: the query reports it. */
        cmee_symbol_spec spec;
        int64_t tpm = 1;
        if (cmee_market_symbol(m, a.symbol, &spec) == CMEE_OK)
            tpm = spec.ticks_per_minute;
        cap = (size_t)(((a.to - a.from) / MINUTE_MS + 2) * tpm);
    }
    /* Everything is generated before the first byte goes out, as in gen. */
    if (!(buf = malloc(cap * sizeof *buf))) {
        fputs("cmee: out of memory\n", stderr);
        cmee_market_free(m);
        return CLI_EXIT_FAIL;
    }
    if (GIVEN(&a, OPT_COUNT))
        st = cmee_market_trades_last(m, a.symbol, a.end, a.count, buf, cap, &n);
    else
        st = cmee_market_trades(m, a.symbol, a.from, a.to, buf, cap, &n);
    if (st == CMEE_OK)
        trades_print(buf, n);
    else
        rc = cli_lib_error(m, st);
    free(buf);
    cmee_market_free(m);
    return rc;
}
