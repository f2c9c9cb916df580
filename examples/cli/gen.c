/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee gen: print generated candles, oldest first, as CSV or JSON lines. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* stpcpy */
#endif

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char gen_usage[] =
    "usage: cmee gen --symbol SYM --timeframe TF (--count N [--end TIME] | --from TIME --to TIME)\n"
    "                [--seed N] [--format csv|jsonl]\n";

static const char gen_help[] =
    "\n"
    "Print the candles of one symbol, oldest first.\n"
    "\n"
    "  --symbol SYM     a symbol listed by 'cmee symbols', e.g. BTCUSD (case-sensitive)\n"
    "  --timeframe TF   1m, 5m, 15m, 1h, 4h or 1d\n"
    "  --count N        the N complete candles that end at or before --end (1 to 10000000)\n"
    "  --end TIME       end of the --count window (default: now, floored to the timeframe)\n"
    "  --from TIME      the candles whose open time is in [--from, --to)\n"
    "  --to TIME\n"
    "  --seed N         market seed, 0 to 18446744073709551615 (default 42)\n"
    "  --format FMT     csv (default; header time,open,high,low,close,volume) or jsonl\n"
    "  -h, --help       show this help\n"
    "\n"
    "TIME is an ISO-8601 UTC time (2030-03-01T00:00:00Z, optionally with .sss before the Z)\n"
    "or milliseconds since the Unix epoch. Output times are candle open times in ms.\n"
    "Exit status: 0 success, 1 failure (e.g. unknown symbol, time outside the series),\n"
    "2 bad arguments.\n";

enum gen_format { GEN_CSV, GEN_JSONL };

/* Long-option values, above any character so they never clash with short options; in the
 * order of gen_options[] so that the value finds the name. */
enum {
    OPT_SYMBOL = 256,
    OPT_TIMEFRAME,
    OPT_COUNT,
    OPT_END,
    OPT_FROM,
    OPT_TO,
    OPT_SEED,
    OPT_FORMAT,
    OPT_LAST_ /* one past the last */
};

typedef struct gen_args {
    const char *symbol;
    cmee_timeframe tf;
    size_t count;
    int64_t end, from, to;
    uint64_t seed;
    enum gen_format format;
    bool given[OPT_LAST_ - OPT_SYMBOL]; /* which options appeared, see GIVEN() */
} gen_args;

#define GIVEN(a, opt) ((a)->given[(opt)-OPT_SYMBOL])

static const struct option gen_options[] = {
    {"symbol", required_argument, NULL, OPT_SYMBOL},
    {"timeframe", required_argument, NULL, OPT_TIMEFRAME},
    {"count", required_argument, NULL, OPT_COUNT},
    {"end", required_argument, NULL, OPT_END},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"seed", required_argument, NULL, OPT_SEED},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Fill @p a from the command line; returns 0, or CLI_EXIT_USAGE after reporting, or -1 for
 * --help (already printed). */
static int gen_parse(int argc, char **argv, gen_args *a)
{
    int c, rc;

    memset(a, 0, sizeof *a);
    a->seed = CLI_DEFAULT_SEED;
    a->format = GEN_CSV;

    /* optind 0 makes getopt reinitialise after the top-level parse (glibc and musl). */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", gen_options, NULL)) != -1) {
        /* Repeating an option is more likely a typo in a script than an intended override. */
        if (c >= OPT_SYMBOL && c < OPT_LAST_) {
            if (GIVEN(a, c))
                return cli_usage_error(gen_usage, "option --%s given more than once",
                                       gen_options[c - OPT_SYMBOL].name);
            GIVEN(a, c) = true;
        }

        switch (c) {
        case 'h':
            cli_puts(gen_usage);
            cli_puts(gen_help);
            return -1;
        case OPT_SYMBOL:
            a->symbol = optarg;
            break;
        case OPT_TIMEFRAME:
            if (cmee_timeframe_parse(optarg, &a->tf) != CMEE_OK)
                return cli_usage_error(
                    gen_usage, "--timeframe: expected 1m, 5m, 15m, 1h, 4h or 1d, got '%s'", optarg);
            break;
        case OPT_COUNT: {
            uint64_t n;
            if (!cli_parse_u64(optarg, &n) || n == 0 || n > CMEE_MARKET_MAX_QUERY)
                return cli_usage_error(gen_usage,
                                       "--count: expected a whole number from 1 to %zu, got '%s'",
                                       CMEE_MARKET_MAX_QUERY, optarg);
            a->count = (size_t)n;
            break;
        }
        case OPT_END:
            if ((rc = cli_time_opt(gen_usage, "end", optarg, &a->end)) != 0)
                return rc;
            break;
        case OPT_FROM:
            if ((rc = cli_time_opt(gen_usage, "from", optarg, &a->from)) != 0)
                return rc;
            break;
        case OPT_TO:
            if ((rc = cli_time_opt(gen_usage, "to", optarg, &a->to)) != 0)
                return rc;
            break;
        case OPT_SEED:
            if ((rc = cli_seed_opt(gen_usage, optarg, &a->seed)) != 0)
                return rc;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "csv") == 0)
                a->format = GEN_CSV;
            else if (strcmp(optarg, "jsonl") == 0)
                a->format = GEN_JSONL;
            else
                return cli_usage_error(gen_usage, "--format: expected csv or jsonl, got '%s'",
                                       optarg);
            break;
        default:
            return cli_getopt_error(gen_usage, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(gen_usage, "unexpected argument '%s'", argv[optind]);
    if (!GIVEN(a, OPT_SYMBOL))
        return cli_usage_error(gen_usage, "missing required option --symbol");
    if (!GIVEN(a, OPT_TIMEFRAME))
        return cli_usage_error(gen_usage, "missing required option --timeframe");
    if (GIVEN(a, OPT_COUNT) && (GIVEN(a, OPT_FROM) || GIVEN(a, OPT_TO)))
        return cli_usage_error(gen_usage, "--count cannot be combined with --from/--to");
    if (GIVEN(a, OPT_FROM) != GIVEN(a, OPT_TO))
        return cli_usage_error(gen_usage, "--%s requires --%s", GIVEN(a, OPT_FROM) ? "from" : "to",
                               GIVEN(a, OPT_FROM) ? "to" : "from");
    if (GIVEN(a, OPT_END) && !GIVEN(a, OPT_COUNT))
        return cli_usage_error(gen_usage, "--end only applies to --count");
    if (!GIVEN(a, OPT_COUNT) && !GIVEN(a, OPT_FROM))
        return cli_usage_error(gen_usage, "one of --count or --from/--to is required");
    if (GIVEN(a, OPT_FROM) && a->from >= a->to)
        return cli_usage_error(gen_usage, "--from must be before --to");
    if (GIVEN(a, OPT_COUNT) && !GIVEN(a, OPT_END))
        a->end = cli_now_ms(); /* candles_last floors it to the timeframe */
    return CLI_EXIT_OK;
}

/* Append @p v formatted by cli_fmt_double(); JSON has no NaN or infinity, so those become
 * null there (the library never returns them, but the output must stay parseable). */
static char *put_num(char *p, double v, bool json)
{
    if (json && !isfinite(v)) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    return p + cli_fmt_double(p, v);
}

/* Write the candles; stops early if stdout fails (cli_output_close() reports it). */
static void gen_print(const cmee_candle *c, size_t n, enum gen_format fmt)
{
    /* Time plus five numbers and the JSON keys fit easily. */
    char line[64 + 6 * CLI_NUM_MAX];
    bool json = fmt == GEN_JSONL;

    if (!json && !cli_puts("time,open,high,low,close,volume\n"))
        return;
    for (size_t i = 0; i < n; i++) {
        char *p = line;
        if (json)
            p = stpcpy(p, "{\"time\":");
        p += cli_int64(p, c[i].time);
        p = stpcpy(p, json ? ",\"open\":" : ",");
        p = put_num(p, c[i].open, json);
        p = stpcpy(p, json ? ",\"high\":" : ",");
        p = put_num(p, c[i].high, json);
        p = stpcpy(p, json ? ",\"low\":" : ",");
        p = put_num(p, c[i].low, json);
        p = stpcpy(p, json ? ",\"close\":" : ",");
        p = put_num(p, c[i].close, json);
        p = stpcpy(p, json ? ",\"volume\":" : ",");
        p = put_num(p, c[i].volume, json);
        p = stpcpy(p, json ? "}\n" : "\n");
        if (!cli_write(line, (size_t)(p - line)))
            return;
    }
}

int cli_cmd_gen(int argc, char **argv)
{
    gen_args a;
    cmee_market *m;
    cmee_candle *buf = NULL;
    size_t n = 0;
    cmee_status st;
    int rc = gen_parse(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (!(m = cli_market_new(a.seed)))
        return CLI_EXIT_FAIL;

    /* Everything is generated before the first byte goes out, so a failure never leaves a
     * truncated table on stdout. */
    if (GIVEN(&a, OPT_COUNT)) {
        buf = malloc(a.count * sizeof *buf);
        st = buf ? cmee_market_candles_last(m, a.symbol, a.tf, a.end, a.count, buf, a.count, &n)
                 : CMEE_ENOMEM;
    } else {
        st = cmee_market_candles_alloc(m, a.symbol, a.tf, a.from, a.to, &buf, &n);
    }
    if (st == CMEE_OK) {
        gen_print(buf, n, a.format);
    } else if (!buf && GIVEN(&a, OPT_COUNT)) {
        fputs("cmee: out of memory\n", stderr);
        rc = CLI_EXIT_FAIL;
    } else {
        rc = cli_lib_error(m, st);
    }

    if (GIVEN(&a, OPT_COUNT))
        free(buf);
    else
        cmee_market_release(m, buf);
    cmee_market_free(m);
    return rc;
}
