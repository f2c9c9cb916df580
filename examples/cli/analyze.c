/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee analyze: market analysis, consensus and binary signals and the latest value of every
 * indicator, for the CSV that `cmee gen` prints, as one JSON object (built with jansson). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/signals_json.h"
#include "cli.h"

static const char analyze_usage[] = "usage: cmee analyze [--timeframe TF] [FILE|-]\n";

static const char analyze_help[] =
    "\n"
    "Analyse candles in the CSV that 'cmee gen' prints (header time,open,high,low,close,volume;\n"
    "at least 60 rows, times increasing), read from FILE, or from stdin when FILE is '-' or\n"
    "absent. Prints one JSON object: the market analysis at the last bar, the consensus signal\n"
    "with its reasons, the binary signal and the latest value of every indicator.\n"
    "\n"
    "  --timeframe TF   bar length (1m, 5m, 15m, 1h, 4h or 1d) for annualising volatility and\n"
    "                   for the binary expiry; default: the median time step of the input\n"
    "  -h, --help       show this help\n"
    "\n"
    "Example: cmee gen --symbol BTCUSD --timeframe 1h --count 500 | cmee analyze\n"
    "Exit status: 0 success, 1 failure (unreadable or malformed input, too few rows),\n"
    "2 bad arguments.\n";

/* The six timeframes, for naming an inferred step. */
static const char *const tf_names[] = {"1m", "5m", "15m", "1h", "4h", "1d"};

typedef struct analyze_args {
    const char *file; /* NULL or "-" for stdin */
    int64_t tf_ms;    /* 0: infer from the times */
    const char *tf;   /* its name, NULL when inferred */
} analyze_args;

/* Fill @p a from the command line; returns 0, or CLI_EXIT_USAGE after reporting, or -1 for
 * --help (already printed). */
static int analyze_parse(int argc, char **argv, analyze_args *a)
{
    static const struct option opts[] = {
        {"timeframe", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(a, 0, sizeof *a);
    optind = 0; /* reinitialise getopt after the top-level parse */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cli_puts(analyze_usage);
            cli_puts(analyze_help);
            return -1;
        case 't': {
            cmee_timeframe tf;
            if (a->tf)
                return cli_usage_error(analyze_usage, "option --timeframe given more than once");
            if (cmee_timeframe_parse(optarg, &tf) != CMEE_OK)
                return cli_usage_error(analyze_usage,
                                       "--timeframe: expected 1m, 5m, 15m, 1h, 4h or 1d, got '%s'",
                                       optarg);
            a->tf = cmee_timeframe_name(tf);
            a->tf_ms = cmee_timeframe_ms(tf);
            break;
        }
        default:
            return cli_getopt_error(analyze_usage, c, argv);
        }
    }
    if (optind < argc)
        a->file = argv[optind++];
    if (optind < argc)
        return cli_usage_error(analyze_usage, "unexpected argument '%s' after FILE", argv[optind]);
    return CLI_EXIT_OK;
}

/* A library failure. One that names a candle ("close[17]") is reported like a malformed row,
 * "cmee: FILE:LINE: close: reason", the header being line 1. */
static int lib_fail(const cli_csv *d, cmee_status st, const cmee_error *err)
{
    const char *br = strchr(err->field, '[');

    if (br && br > err->field) {
        char *end;
        unsigned long long idx = strtoull(br + 1, &end, 10);
        size_t flen = strlen(err->field);
        if (end > br + 1 && end[0] == ']' && end[1] == '\0' && idx < d->n) {
            char field[sizeof err->field];
            const char *why = err->text;
            /* The library's text starts with the field: drop it, the line says which. */
            if (strncmp(why, err->field, flen) == 0 && why[flen] == ':' && why[flen + 1] == ' ')
                why += flen + 2;
            memcpy(field, err->field, (size_t)(br - err->field));
            field[br - err->field] = '\0';
            /* "not after time[6]" would mix row indexes into a message about lines. */
            char tbuf[96];
            if (strcmp(field, "time") == 0 && idx > 0) {
                snprintf(tbuf, sizeof tbuf, "not after the previous row's time (%lld <= %lld)",
                         (long long)cli_csv_time(d, (size_t)idx),
                         (long long)cli_csv_time(d, (size_t)idx - 1));
                why = tbuf;
            }
            return cli_bad_row(d->name, (size_t)idx + 2, field, why, NULL, NULL);
        }
    }
    fprintf(stderr, "cmee: %s\n", err->text[0] ? err->text : cmee_status_str(st));
    return CLI_EXIT_FAIL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The median time step, as cmee_analyze() infers it, in whole ms (for an even count the mean of
 * the two middle steps, rounded down). Times are strictly increasing and n >= 2. Returns 0 when
 * out of memory; at most INT64_MAX. */
static int64_t median_step(const cmee_candle *c, size_t n)
{
    uint64_t *d = malloc((n - 1) * sizeof *d);
    uint64_t m;

    if (!d)
        return 0;
    /* Unsigned differences: strictly increasing times never make them wrap. */
    for (size_t i = 1; i < n; i++)
        d[i - 1] = (uint64_t)c[i].time - (uint64_t)c[i - 1].time;
    qsort(d, n - 1, sizeof *d, cmp_u64);
    size_t k = (n - 1) / 2;
    m = (n - 1) % 2 ? d[k] : d[k - 1] + (d[k] - d[k - 1]) / 2;
    free(d);
    return m > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)m;
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* signals_json_put(), or on failure go to the caller's fail label. */
#define PUT(o, key, v)                                                                             \
    do {                                                                                           \
        if (!signals_json_put((o), (key), (v)))                                                    \
            goto fail;                                                                             \
    } while (0)

/* {name: {output: value at the last bar}} for every indicator, default parameters. Returns NULL
 * after reporting. */
static json_t *indicators_json(const cli_csv *d, double *buf)
{
    size_t n = d->n;
    cmee_series s = {.open = d->col,
                     .high = d->col + n,
                     .low = d->col + 2 * n,
                     .close = d->col + 3 * n,
                     .volume = d->col + 4 * n,
                     .n = n};
    cmee_status st = CMEE_OK;
    cmee_error err;
    json_t *all = signals_json_indicators(&s, buf, &st, &err);

    if (!all) {
        if (st == CMEE_ENOMEM)
            fputs("cmee: out of memory\n", stderr);
        else
            lib_fail(d, st, &err);
    }
    return all;
}

/* ---- the command -------------------------------------------------------------------------- */

static int dump_cb(const char *buffer, size_t size, void *data)
{
    (void)data;
    return cli_write(buffer, size) ? 0 : -1;
}

/* Analyse and print; returns an exit code. Nothing reaches stdout unless everything worked. */
static int analyze_and_print(const analyze_args *a, const cli_csv *d)
{
    size_t n = d->n;
    cmee_candle *c = malloc((n ? n : 1) * sizeof *c);
    double *buf = malloc((n ? n : 1) * CMEE_IND_MAX_OUTPUTS * sizeof *buf);
    json_t *root = NULL, *ind = NULL;
    cmee_analysis an;
    cmee_signal sig;
    cmee_binary_config bcfg;
    cmee_binary_signal bin;
    cmee_error err;
    cmee_status st;
    int64_t tf_ms;
    const char *tf_name = a->tf;
    int rc = CLI_EXIT_FAIL;

    if (!c || !buf) {
        fputs("cmee: out of memory\n", stderr);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        c[i].time = cli_csv_time(d, i);
        c[i].open = d->col[i];
        c[i].high = d->col[n + i];
        c[i].low = d->col[2 * n + i];
        c[i].close = d->col[3 * n + i];
        c[i].volume = d->col[4 * n + i];
    }

    /* The analysis checks the input (at least 60 rows, positive closes, increasing times):
     * first, so that its message is the one a bad input gets. */
    if ((st = cmee_analyze(c, n, a->tf_ms, &an, &err)) != CMEE_OK ||
        (st = cmee_signal_compute(c, n, NULL, &sig, &err)) != CMEE_OK) {
        rc = lib_fail(d, st, &err);
        goto done;
    }
    tf_ms = a->tf_ms ? a->tf_ms : median_step(c, n);
    if (tf_ms == 0) {
        fputs("cmee: out of memory\n", stderr);
        goto done;
    }
    for (size_t k = 0; !tf_name && k < sizeof tf_names / sizeof *tf_names; k++) {
        cmee_timeframe tf;
        if (cmee_timeframe_parse(tf_names[k], &tf) == CMEE_OK && cmee_timeframe_ms(tf) == tf_ms)
            tf_name = tf_names[k];
    }
    cmee_binary_config_init(&bcfg);
    if ((st = cmee_binary_from_signal(&sig, &bcfg, tf_ms, &bin)) != CMEE_OK) {
        fprintf(stderr, "cmee: binary signal: the expiry of %d bars of %lld ms overflows\n",
                bcfg.expiry_bars, (long long)tf_ms);
        goto done;
    }
    if (!(ind = indicators_json(d, buf)))
        goto done;

    root = json_object();
    PUT(root, "n", json_integer((json_int_t)n));
    PUT(root, "time", json_integer((json_int_t)an.time));
    PUT(root, "timeframe", tf_name ? json_string(tf_name) : json_null());
    PUT(root, "analysis", signals_json_analysis(&an));
    PUT(root, "signal", signals_json_signal(&sig, "direction"));
    PUT(root, "binary", signals_json_binary(&bin));
    json_t *all = ind;
    ind = NULL; /* signals_json_put() takes it, whatever happens */
    PUT(root, "indicators", all);

    /* json_dumpf's formatting, written through cli_write so that write errors are handled as
     * for every other command. */
    json_dump_callback(root, dump_cb, NULL,
                       JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    cli_puts("\n");
    rc = CLI_EXIT_OK;
    goto done;
fail:
    fputs("cmee: out of memory\n", stderr);
done:
    json_decref(ind);
    json_decref(root);
    free(buf);
    free(c);
    return rc;
}

int cli_cmd_analyze(int argc, char **argv)
{
    analyze_args a;
    cli_csv d;
    int rc = analyze_parse(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = cli_csv_load(a.file, &d);
    if (rc == CLI_EXIT_OK)
        rc = analyze_and_print(&a, &d);
    cli_csv_free(&d);
    return rc;
}
