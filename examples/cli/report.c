/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee report: the results report of a stored session as one JSON object (cmee/report.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char report_usage[] = "usage: cmee report --db PATH --session ID [--sample-ms N]\n";

static const char report_help[] =
    "\n"
    "Print the results report of a session stored in a libcmee database (the file cmee-server\n"
    "keeps): P&L, return, max drawdown, Sharpe and Sortino of the equity curve, trades and\n"
    "options, win rate with its 95 % Wilson interval, best and worst trade, exposure. One JSON\n"
    "object on one line; docs/report.md describes every field.\n"
    "\n"
    "The session is read as last committed and nothing is written, so the database may be in\n"
    "use by a running server at the same time.\n"
    "\n"
    "  --db PATH        the database file (must exist)\n"
    "  --session ID     the session's id\n"
    "  --sample-ms N    step of the equity curve in sim ms, 1000 to 2592000000 (default 3600000)\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure (e.g. no such file or session), 2 bad arguments.\n";

enum { OPT_DB = 256, OPT_SESSION, OPT_SAMPLE, OPT_LAST_ };

static const struct option report_options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"session", required_argument, NULL, OPT_SESSION},
    {"sample-ms", required_argument, NULL, OPT_SAMPLE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cli_cmd_report(int argc, char **argv)
{
    const char *db = NULL, *id = NULL;
    bool given[OPT_LAST_ - OPT_DB] = {false};
    cmee_report_config cfg;
    int c;

    cmee_report_config_init(&cfg);
    cfg.advance = false; /* read only: the file may belong to a running server */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", report_options, NULL)) != -1) {
        if (c >= OPT_DB && c < OPT_LAST_) {
            if (given[c - OPT_DB])
                return cli_usage_error(report_usage, "option --%s given more than once",
                                       report_options[c - OPT_DB].name);
            given[c - OPT_DB] = true;
        }
        switch (c) {
        case 'h':
            cli_puts(report_usage);
            cli_puts(report_help);
            return cli_output_close();
        case OPT_DB:
            db = optarg;
            break;
        case OPT_SESSION:
            id = optarg;
            break;
        case OPT_SAMPLE: {
            uint64_t n;
            if (!cli_parse_u64(optarg, &n) || n < 1000 || n > UINT64_C(2592000000))
                return cli_usage_error(report_usage,
                                       "--sample-ms: expected a whole number from 1000 to "
                                       "2592000000, got '%s'",
                                       optarg);
            cfg.sample_ms = (int64_t)n;
            break;
        }
        default:
            return cli_getopt_error(report_usage, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(report_usage, "unexpected argument '%s'", argv[optind]);
    if (!db || !*db)
        return cli_usage_error(report_usage, "missing required option --db");
    if (!id || !*id)
        return cli_usage_error(report_usage, "missing required option --session");

    cmee_store *store = NULL;
    cmee_session *s = NULL;
    if (cli_session_open(db, id, &store, &s) != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    cmee_report r;
    char json[4096];
    size_t len = 0;
    cmee_status st = cmee_session_report(s, &cfg, &r);
    if (st == CMEE_OK)
        st = cmee_report_to_json(&r, json, sizeof json, &len);
    if (st != CMEE_OK) {
        fprintf(stderr, "cmee: report: %s\n",
                cmee_session_errmsg(s)[0] ? cmee_session_errmsg(s) : cmee_status_str(st));
        cmee_session_free(s);
        cmee_store_close(store);
        return CLI_EXIT_FAIL;
    }
    cmee_session_free(s);
    cmee_store_close(store);
    cli_write(json, len);
    cli_write("\n", 1);
    return cli_output_close();
}
