/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee replay: the audit of a stored session: its current epoch replayed from its action log
 * and compared with it, record by record, bit for bit (cmee_session_replay_check()). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char replay_usage[] = "usage: cmee replay --db PATH --session ID\n";

static const char replay_help[] =
    "\n"
    "Replay the current epoch of a session stored in a libcmee database (the file cmee-server\n"
    "keeps) from its action log, and compare the replay with the session: every order, option,\n"
    "ledger entry, position and the balance, bit for bit. Prints one JSON object on one line:\n"
    "{\"session\", \"epoch\", \"same\", \"actions\", \"orders\", \"options\", \"ledger_entries\",\n"
    "\"difference\"}, difference null or the first one {\"record\", \"index\", \"field\",\n"
    "\"original\", \"replayed\"}. docs/sessions.md, \"Replay and reset\", has the rules.\n"
    "\n"
    "The session is read as last committed and nothing is written, so the database may be in\n"
    "use by a running server at the same time.\n"
    "\n"
    "  --db PATH        the database file (must exist)\n"
    "  --session ID     the session's id\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit status: 0 the replay is the same, 3 it differs, 1 failure (no such file or session,\n"
    "or a session stored before the action log, which cannot be replayed), 2 bad arguments.\n";

enum { OPT_DB = 256, OPT_SESSION, OPT_LAST_ };

static const struct option replay_options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"session", required_argument, NULL, OPT_SESSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* A JSON string of text made by the library (ids, names, numbers): escape what JSON needs. */
static void put_str(const char *s)
{
    cli_write("\"", 1);
    for (; *s; s++) {
        char c = *s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', c};
            cli_write(e, 2);
        } else if ((unsigned char)c < 0x20) {
            char e[8];
            int n = snprintf(e, sizeof e, "\\u%04x", (unsigned char)c);
            cli_write(e, (size_t)n);
        } else {
            cli_write(&c, 1);
        }
    }
    cli_write("\"", 1);
}

int cli_cmd_replay(int argc, char **argv)
{
    const char *db = NULL, *id = NULL;
    bool given[OPT_LAST_ - OPT_DB] = {false};
    int c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", replay_options, NULL)) != -1) {
        if (c >= OPT_DB && c < OPT_LAST_) {
            if (given[c - OPT_DB])
                return cli_usage_error(replay_usage, "option --%s given more than once",
                                       replay_options[c - OPT_DB].name);
            given[c - OPT_DB] = true;
        }
        switch (c) {
        case 'h':
            cli_puts(replay_usage);
            cli_puts(replay_help);
            return cli_output_close();
        case OPT_DB:
            db = optarg;
            break;
        case OPT_SESSION:
            id = optarg;
            break;
        default:
            return cli_getopt_error(replay_usage, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(replay_usage, "unexpected argument '%s'", argv[optind]);
    if (!db || !*db)
        return cli_usage_error(replay_usage, "missing required option --db");
    if (!id || !*id)
        return cli_usage_error(replay_usage, "missing required option --session");

    cmee_store *store = NULL;
    cmee_session *s = NULL;
    if (cli_session_open(db, id, &store, &s) != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    cmee_replay_result r;
    cmee_status st = cmee_session_replay_check(s, &r);
    uint64_t epoch = cmee_session_epoch(s);
    if (st != CMEE_OK) {
        if (st == CMEE_ESTATE)
            fprintf(stderr,
                    "cmee: session \"%.64s\" was stored before the action log: it cannot be "
                    "replayed until it is reset\n",
                    id);
        else
            fprintf(stderr, "cmee: replay: %s\n", cmee_status_str(st));
        cmee_session_free(s);
        cmee_store_close(store);
        return CLI_EXIT_FAIL;
    }
    cmee_session_free(s);
    cmee_store_close(store);
    char buf[256];
    cli_write("{\"session\":", 11);
    put_str(id);
    int n = snprintf(buf, sizeof buf,
                     ",\"epoch\":%" PRIu64 ",\"same\":%s,\"actions\":%" PRIu64
                     ",\"orders\":%zu,\"options\":%zu,\"ledger_entries\":%zu,\"difference\":",
                     epoch, r.same ? "true" : "false", r.actions, r.orders, r.options,
                     r.ledger_entries);
    cli_write(buf, (size_t)n);
    if (r.same) {
        cli_write("null", 4);
    } else {
        cli_write("{\"record\":", 10);
        put_str(r.record);
        n = snprintf(buf, sizeof buf, ",\"index\":%" PRIu64 ",\"field\":", r.index);
        cli_write(buf, (size_t)n);
        put_str(r.field);
        cli_write(",\"original\":", 12);
        put_str(r.original);
        cli_write(",\"replayed\":", 12);
        put_str(r.replayed);
        cli_write("}", 1);
    }
    cli_write("}\n", 2);
    int rc = cli_output_close();
    return rc != CLI_EXIT_OK ? rc : r.same ? CLI_EXIT_OK : 3;
}
