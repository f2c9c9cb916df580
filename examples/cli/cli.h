/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared pieces of the cmee command-line tool: exit codes, argument parsing helpers, number
 * formatting and checked output. */
#ifndef CMEE_CLI_H
#define CMEE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmee.h>

/* Exit codes are part of the contract: scripts tell bad arguments from failures. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Room for any double printed with %.17g, sign and exponent included. */
#define CLI_NUM_MAX 32

/* The seed used when --seed is not given. */
#define CLI_DEFAULT_SEED UINT64_C(42)

/* Subcommands: argv[0] is the subcommand name. They return an exit code. */
int cli_cmd_gen(int argc, char **argv);
int cli_cmd_ind(int argc, char **argv);
int cli_cmd_analyze(int argc, char **argv);
int cli_cmd_book(int argc, char **argv);
int cli_cmd_trades(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);
int cli_cmd_replay(int argc, char **argv);

/* Print @p usage and then "cmee: <reason>" as the last line to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report an error from getopt_long (opterr = 0, optstring starting with ':'); returns
 * CLI_EXIT_USAGE. */
int cli_getopt_error(const char *usage, int ret, char **argv);

/* Report a library failure on @p m as "cmee: <errmsg>"; returns CLI_EXIT_FAIL. */
int cli_lib_error(const cmee_market *m, cmee_status st);

/* Open the store at @p db (it must exist) and load session @p id from it; on failure report
 * why as "cmee: ..." and return CLI_EXIT_FAIL with nothing left open. The caller frees *@p s
 * and closes *@p store. Reading a session writes nothing. */
int cli_session_open(const char *db, const char *id, cmee_store **store, cmee_session **s);

/* Create the market or report why not; returns NULL on failure. */
cmee_market *cli_market_new(uint64_t seed);

/* The first of %.15g, %.16g and %.17g that reads back as exactly @p v, NUL-terminated.
 * Returns the length. */
size_t cli_fmt_double(char buf[static CLI_NUM_MAX], double v);

/* @p v in decimal, NUL-terminated; @p buf needs 21 bytes. Returns the length. */
size_t cli_int64(char *buf, int64_t v);

/* Whole decimal number, digits only (no sign, no blanks), without overflow. */
bool cli_parse_u64(const char *s, uint64_t *out);

/* A time: milliseconds (digits with an optional leading '-') or strictly
 * YYYY-MM-DDTHH:MM:SS[.s{1,3}]Z. On failure returns false and sets *why to a static reason. */
bool cli_parse_time(const char *s, int64_t *out, const char **why);

/* Parse the value @p val of option --@p name as a TIME (cli_parse_time()); on failure report
 * "--name: reason, got 'value'" after @p usage. Returns 0 or CLI_EXIT_USAGE. */
int cli_time_opt(const char *usage, const char *name, const char *val, int64_t *out);

/* Parse the value of --seed (0 to 2^64-1); on failure report it after @p usage. Returns 0 or
 * CLI_EXIT_USAGE. */
int cli_seed_opt(const char *usage, const char *val, uint64_t *out);

/* Current time in ms since the Unix epoch. */
int64_t cli_now_ms(void);

/* A finite decimal number spanning exactly [p, e): optional sign, digits with an optional point,
 * optional exponent. No blanks, hex, inf or nan. */
bool cli_parse_num(const char *p, const char *e, double *out);

/* Candles in the CSV that `cmee gen` prints (csvin.c). Row i's time text starts at
 * buf + time_at[i] and ends at the next ','. */
typedef struct cli_csv {
    const char *name; /* the file as given, "<stdin>" for stdin: for messages */
    char *buf;
    size_t n;
    size_t *time_at;
    double *col; /* 5 arrays of n: open, high, low, close, volume */
} cli_csv;

/* Read and check @p file (NULL or "-": stdin). Returns 0, or CLI_EXIT_FAIL after reporting the
 * unreadable file or the first bad line and field. Free @p d with cli_csv_free() either way. */
int cli_csv_load(const char *file, cli_csv *d);
void cli_csv_free(cli_csv *d);

/* The time of row @p i, in ms. */
int64_t cli_csv_time(const cli_csv *d, size_t i);

/* Report "cmee: FILE:LINE: FIELD: why[ 'value']", the value being [v, e) if v is not NULL;
 * returns CLI_EXIT_FAIL. */
int cli_bad_row(const char *file, size_t line, const char *field, const char *why, const char *v,
                const char *e);

/* Buffered writes to stdout. Once a write fails, further writes are skipped and the error is
 * kept for cli_output_close(). */
bool cli_write(const char *p, size_t n);
bool cli_puts(const char *s);

/* Flush stdout and turn any write error into an exit code: 0 if fine or if the reader went
 * away (EPIPE: `cmee gen ... | head` is not an error), 1 with a message otherwise. */
int cli_output_close(void);

#endif
