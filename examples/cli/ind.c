/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee ind: one technical indicator over the CSV that `cmee gen` prints. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char ind_usage[] = "usage: cmee ind NAME [KEY=VALUE ...] [FILE|-]\n"
                                "       cmee ind --list\n";

static const char ind_help[] =
    "\n"
    "Compute one indicator over candles in the CSV that 'cmee gen' prints (header\n"
    "time,open,high,low,close,volume), read from FILE, or from stdin when FILE is '-' or\n"
    "absent. Prints CSV: the header time,<outputs>, then one row per input row with the time\n"
    "as read and one field per output; a field is empty while the indicator is undefined\n"
    "(its lookback).\n"
    "\n"
    "  NAME         an indicator listed by 'cmee ind --list', e.g. macd\n"
    "  KEY=VALUE    a parameter, e.g. period=10; each at most once, default when omitted;\n"
    "               parameters come before FILE\n"
    "  --list       list every indicator: name, KEY=DEFAULT ..., '->', outputs, title\n"
    "  -h, --help   show this help\n"
    "\n"
    "Example: cmee gen --symbol BTCUSD --timeframe 1h --count 500 | cmee ind macd slow=30\n"
    "Exit status: 0 success, 1 failure (unreadable or malformed input), 2 bad arguments\n"
    "(including a parameter out of range).\n";

typedef struct ind_args {
    cmee_ind_id id;
    const cmee_ind_info *info;
    double params[CMEE_IND_MAX_PARAMS];
    const char *file; /* NULL or "-" for stdin */
    bool list;
} ind_args;

static void print_list(void)
{
    for (int i = 0; i < CMEE_IND_COUNT; i++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)i);
        char num[CLI_NUM_MAX];

        if (!info)
            continue;
        cli_puts(info->name);
        for (size_t k = 0; k < info->nparams; k++) {
            cli_puts(" ");
            cli_puts(info->param_names[k]);
            cli_puts("=");
            cli_fmt_double(num, info->param_defaults[k]);
            cli_puts(num);
        }
        cli_puts(" ->");
        for (size_t k = 0; k < info->noutputs; k++) {
            cli_puts(k ? "," : " ");
            cli_puts(info->output_names[k]);
        }
        cli_puts("  ");
        cli_puts(info->title);
        cli_puts("\n");
    }
}

/* "period", "fast, slow or signal": the keys @p info accepts, for error messages. */
static void expected_keys(const cmee_ind_info *info, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t k = 0; k < info->nparams && len < size; k++) {
        const char *sep = k == 0 ? "" : k + 1 == info->nparams ? " or " : ", ";
        int n = snprintf(buf + len, size - len, "%s%s", sep, info->param_names[k]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* One KEY=VALUE argument. Returns 0 or CLI_EXIT_USAGE after reporting. */
static int parse_param(ind_args *a, const char *arg, bool given[CMEE_IND_MAX_PARAMS])
{
    const cmee_ind_info *info = a->info;
    const char *eq = strchr(arg, '=');
    size_t klen = (size_t)(eq - arg);
    size_t k;

    if (klen == 0)
        return cli_usage_error(ind_usage, "'%s': expected KEY=VALUE", arg);
    for (k = 0; k < info->nparams; k++)
        if (strlen(info->param_names[k]) == klen && memcmp(info->param_names[k], arg, klen) == 0)
            break;
    if (k == info->nparams) {
        char keys[64];
        if (info->nparams == 0)
            return cli_usage_error(ind_usage, "unknown parameter '%.*s': %s takes no parameters",
                                   (int)klen, arg, info->name);
        expected_keys(info, keys, sizeof keys);
        return cli_usage_error(ind_usage, "unknown parameter '%.*s' for %s (expected %s)",
                               (int)klen, arg, info->name, keys);
    }
    /* A repeat is more likely a typo in a script than an intended override. */
    if (given[k])
        return cli_usage_error(ind_usage, "parameter %s given more than once",
                               info->param_names[k]);
    if (!cli_parse_num(eq + 1, eq + strlen(eq), &a->params[k]))
        return cli_usage_error(ind_usage, "%s: expected a number, got '%s'", info->param_names[k],
                               eq + 1);
    given[k] = true;
    return CLI_EXIT_OK;
}

/* Fill @p a from the command line; returns 0, or CLI_EXIT_USAGE after reporting, or -1 for
 * --help (already printed). */
static int ind_parse(int argc, char **argv, ind_args *a)
{
    static const struct option opts[] = {
        {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool given[CMEE_IND_MAX_PARAMS] = {false};
    int c, rc;

    memset(a, 0, sizeof *a);
    optind = 0; /* reinitialise getopt after the top-level parse */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cli_puts(ind_usage);
            cli_puts(ind_help);
            return -1;
        case 'l':
            a->list = true;
            break;
        default:
            return cli_getopt_error(ind_usage, c, argv);
        }
    }
    if (a->list) {
        if (optind < argc)
            return cli_usage_error(ind_usage, "--list takes no other argument, got '%s'",
                                   argv[optind]);
        return CLI_EXIT_OK;
    }
    if (optind >= argc)
        return cli_usage_error(ind_usage, "missing indicator NAME (see 'cmee ind --list')");

    const char *name = argv[optind++];
    if (cmee_ind_find(name, &a->id) != CMEE_OK || !(a->info = cmee_ind_info_get(a->id)))
        return cli_usage_error(ind_usage, "unknown indicator '%s' (see 'cmee ind --list')", name);
    for (size_t k = 0; k < a->info->nparams; k++)
        a->params[k] = a->info->param_defaults[k];

    for (; optind < argc; optind++) {
        const char *arg = argv[optind];
        bool is_param = strchr(arg, '=') != NULL;

        if (a->file)
            return cli_usage_error(ind_usage,
                                   is_param ? "'%s' after FILE: parameters come first"
                                            : "unexpected argument '%s' after FILE",
                                   arg);
        if (!is_param)
            a->file = arg;
        else if ((rc = parse_param(a, arg, given)) != 0)
            return rc;
    }

    /* Ranges and whole-number rules belong to the library: ask it before touching the input,
     * so that a bad parameter is a usage error whatever the file holds. */
    cmee_error err;
    size_t lookback;
    cmee_status st = cmee_ind_lookback(a->id, a->params, &lookback, &err);
    if (st != CMEE_OK)
        return cli_usage_error(ind_usage, "%s", err.text[0] ? err.text : cmee_status_str(st));
    return CLI_EXIT_OK;
}

/* Compute and print; returns an exit code. Nothing reaches stdout unless everything worked. */
static int compute_and_print(const ind_args *a, const cli_csv *d)
{
    const cmee_ind_info *info = a->info;
    size_t n = d->n, no = info->noutputs;
    double *outbuf = malloc((n ? n : 1) * no * sizeof *outbuf);
    double *out[CMEE_IND_MAX_OUTPUTS] = {NULL};
    cmee_series s = {.open = d->col,
                     .high = d->col + n,
                     .low = d->col + 2 * n,
                     .close = d->col + 3 * n,
                     .volume = d->col + 4 * n,
                     .n = n};
    cmee_error err;

    if (!outbuf) {
        fputs("cmee: out of memory\n", stderr);
        return CLI_EXIT_FAIL;
    }
    for (size_t k = 0; k < no; k++)
        out[k] = outbuf + k * n;
    cmee_status st = cmee_ind_compute(a->id, a->params, &s, out, &err);
    if (st != CMEE_OK) {
        fprintf(stderr, "cmee: %s\n", err.text[0] ? err.text : cmee_status_str(st));
        free(outbuf);
        return CLI_EXIT_FAIL;
    }

    cli_puts("time");
    for (size_t k = 0; k < no; k++) {
        cli_puts(",");
        cli_puts(info->output_names[k]);
    }
    cli_puts("\n");
    for (size_t i = 0; i < n; i++) {
        /* is_ms() allowed at most 20 characters for the time. */
        char line[24 + CMEE_IND_MAX_OUTPUTS * (1 + CLI_NUM_MAX) + 2];
        const char *t = d->buf + d->time_at[i];
        size_t tl = (size_t)((const char *)memchr(t, ',', 24) - t);
        char *q = line;

        memcpy(q, t, tl);
        q += tl;
        for (size_t k = 0; k < no; k++) {
            *q++ = ',';
            /* NaN is "undefined": the lookback rows. An empty field says so in any CSV reader. */
            if (!isnan(out[k][i]))
                q += cli_fmt_double(q, out[k][i]);
        }
        *q++ = '\n';
        if (!cli_write(line, (size_t)(q - line)))
            break;
    }
    free(outbuf);
    return CLI_EXIT_OK;
}

int cli_cmd_ind(int argc, char **argv)
{
    ind_args a;
    cli_csv d;
    int rc = ind_parse(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.list) {
        print_list();
        return CLI_EXIT_OK;
    }

    rc = cli_csv_load(a.file, &d);
    if (rc == CLI_EXIT_OK)
        rc = compute_and_print(&a, &d);
    cli_csv_free(&d);
    return rc;
}
