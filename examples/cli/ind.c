/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee ind: one technical indicator over the CSV that `cmee gen` prints. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <errno.h>
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

/* The only input format: what `cmee gen --format csv` prints. */
#define CSV_HEADER "time,open,high,low,close,volume"
enum { NFIELDS = 6 };
static const char *const field_names[NFIELDS] = {"time", "open", "high", "low", "close", "volume"};

typedef struct ind_args {
    cmee_ind_id id;
    const cmee_ind_info *info;
    double params[CMEE_IND_MAX_PARAMS];
    const char *file; /* NULL or "-" for stdin */
    bool list;
} ind_args;

/* A finite decimal number spanning exactly [p, e): optional sign, digits with an optional point
 * (at least one digit), optional exponent. No blanks, hex, inf or nan: those are what strtod
 * would accept but a CSV of prices or a parameter never means. */
static bool parse_num(const char *p, const char *e, double *out)
{
    /* Clinger's fast path: an integer mantissa below 2^53 and a power of ten up to 1e22 are
     * both exact, so one multiplication or division is correctly rounded, the same double
     * strtod gives. It covers every number gen prints and avoids strtod's cost on big files. */
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const uint64_t fast_max = UINT64_C(1) << 53;
    const char *s = p;
    uint64_t mant = 0;
    long scale = 0, ex = 0;
    int digits = 0;
    bool neg = false, fast = true;

    if (s < e && (*s == '+' || *s == '-'))
        neg = *s++ == '-';
    for (; s < e && *s >= '0' && *s <= '9'; s++, digits++) {
        if (mant <= (fast_max - 9) / 10)
            mant = mant * 10 + (uint64_t)(*s - '0');
        else
            fast = false;
    }
    if (s < e && *s == '.') {
        for (s++; s < e && *s >= '0' && *s <= '9'; s++, digits++) {
            if (mant <= (fast_max - 9) / 10) {
                mant = mant * 10 + (uint64_t)(*s - '0');
                scale--;
            } else {
                fast = false;
            }
        }
    }
    if (digits == 0)
        return false;
    if (s < e && (*s == 'e' || *s == 'E')) {
        bool eneg = false;
        s++;
        if (s < e && (*s == '+' || *s == '-'))
            eneg = *s++ == '-';
        if (s == e || *s < '0' || *s > '9')
            return false;
        for (; s < e && *s >= '0' && *s <= '9'; s++)
            if (ex < 100000) /* far beyond any double; strtod sorts it out */
                ex = ex * 10 + (*s - '0');
        ex = eneg ? -ex : ex;
    }
    if (s != e)
        return false;

    double v;
    long p10 = scale + ex;
    if (fast && p10 >= -22 && p10 <= 22) {
        v = p10 < 0 ? (double)mant / pow10[-p10] : (double)mant * pow10[p10];
        v = neg ? -v : v;
    } else {
        /* The byte at e is ',', '\r', '\n' or the buffer's NUL: none extends a number, so
         * strtod stops exactly at e. */
        char *end;
        v = strtod(p, &end);
        if (end != e)
            return false;
    }
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Integer milliseconds: optional '-', then digits, within int64_t. */
static bool is_ms(const char *p, const char *e)
{
    bool neg = p < e && *p == '-';
    uint64_t v = 0, limit = neg ? UINT64_C(1) << 63 : (UINT64_C(1) << 63) - 1;

    p += neg;
    if (p == e)
        return false;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    return true;
}

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
    if (!parse_num(eq + 1, eq + strlen(eq), &a->params[k]))
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

/* Read all of @p f into a NUL-terminated heap buffer. Returns NULL after reporting. */
static char *read_all(FILE *f, const char *name, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);

    if (!buf)
        goto nomem;
    errno = 0; /* for the report below: fread sets it only on failure */
    for (;;) {
        /* Keep one byte for the terminator. */
        if (cap - n < 2) {
            if (cap > SIZE_MAX / 2)
                goto nomem;
            char *p = realloc(buf, cap * 2);
            if (!p)
                goto nomem;
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "cmee: %s: read error: %s\n", name, strerror(errno ? errno : EIO));
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
nomem:
    free(buf);
    fprintf(stderr, "cmee: %s: out of memory reading the input\n", name);
    return NULL;
}

/* The parsed input: row i's time text starts at buf + time_at[i] and ends at the next ','. */
typedef struct ind_data {
    char *buf;
    size_t n;
    size_t *time_at;
    double *col; /* NFIELDS - 1 arrays of n: open, high, low, close, volume */
} ind_data;

/* Report "cmee: FILE:LINE: FIELD: reason[ 'value']"; returns CLI_EXIT_FAIL. The value is shown
 * up to 40 bytes with control bytes as '?', so a binary file cannot garble the terminal. */
static int bad_row(const char *file, size_t line, const char *field, const char *why, const char *v,
                   const char *e)
{
    fprintf(stderr, "cmee: %s:%zu: %s: %s", file, line, field, why);
    if (v) {
        size_t len = (size_t)(e - v);
        fputs(" '", stderr);
        for (size_t i = 0; i < len && i < 40; i++) {
            unsigned char ch = (unsigned char)v[i];
            fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, stderr);
        }
        fputs(len > 40 ? "...'" : "'", stderr);
    }
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

/* Parse the CSV in d->buf (len bytes); returns 0 or CLI_EXIT_FAIL after reporting. */
static int parse_csv(ind_data *d, size_t len, const char *file)
{
    const char *p = d->buf, *end = d->buf + len;
    size_t rows = 0, line = 1;

    /* Lines <= newlines + 1: size the arrays once instead of growing them per row. */
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
        rows++;
    rows++;
    d->time_at = malloc(rows * sizeof *d->time_at);
    d->col = rows <= SIZE_MAX / sizeof(double) / (NFIELDS - 1)
                 ? malloc(rows * (NFIELDS - 1) * sizeof *d->col)
                 : NULL;
    if (!d->time_at || !d->col) {
        fprintf(stderr, "cmee: %s: out of memory for %zu rows\n", file, rows);
        return CLI_EXIT_FAIL;
    }

    for (; p < end || line == 1; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;

        /* CRLF files: the '\r' belongs to the line ending, not to the last field. */
        if (eol > p && eol[-1] == '\r')
            eol--;
        if (line == 1) {
            if (len == 0)
                return bad_row(file, line, "header", "empty input, expected '" CSV_HEADER "'", NULL,
                               NULL);
            if ((size_t)(eol - p) != strlen(CSV_HEADER) ||
                memcmp(p, CSV_HEADER, strlen(CSV_HEADER)))
                return bad_row(file, line, "header", "expected '" CSV_HEADER "', got", p, eol);
            p = next;
            continue;
        }
        if (eol == p)
            return bad_row(file, line, "row", "empty line", NULL, NULL);

        /* Split on ',': up to NFIELDS fields, counting any extra. */
        const char *f[NFIELDS + 1];
        size_t nf = 0;
        f[nf++] = p;
        for (const char *q = p; (q = memchr(q, ',', (size_t)(eol - q))) != NULL; q++) {
            if (nf <= NFIELDS)
                f[nf] = q + 1;
            nf++;
        }
        if (nf != NFIELDS) {
            char why[64];
            snprintf(why, sizeof why, "%s (expected %d fields, got %zu)",
                     nf < NFIELDS ? "missing" : "too many fields", NFIELDS, nf);
            return bad_row(file, line, nf < NFIELDS ? field_names[nf] : "row", why, NULL, NULL);
        }
        f[NFIELDS] = eol + 1; /* so that field k always ends at f[k + 1] - 1 */

        size_t i = d->n;
        if (!is_ms(f[0], f[1] - 1))
            return bad_row(file, line, "time", "expected whole milliseconds, got", f[0], f[1] - 1);
        d->time_at[i] = (size_t)(f[0] - d->buf);
        for (int k = 1; k < NFIELDS; k++) {
            if (!parse_num(f[k], f[k + 1] - 1, &d->col[(size_t)(k - 1) * rows + i]))
                return bad_row(file, line, field_names[k], "expected a finite number, got", f[k],
                               f[k + 1] - 1);
        }
        d->n++;
        p = next;
    }
    /* The columns were laid out with stride rows; close them up so col holds arrays of n. */
    if (d->n < rows)
        for (size_t k = 1; k < NFIELDS - 1; k++)
            memmove(d->col + k * d->n, d->col + k * rows, d->n * sizeof *d->col);
    return CLI_EXIT_OK;
}

/* Compute and print; returns an exit code. Nothing reaches stdout unless everything worked. */
static int compute_and_print(const ind_args *a, const ind_data *d)
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
    ind_data d = {NULL, 0, NULL, NULL};
    size_t len = 0;
    int rc = ind_parse(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.list) {
        print_list();
        return CLI_EXIT_OK;
    }

    bool use_stdin = !a.file || strcmp(a.file, "-") == 0;
    const char *name = use_stdin ? "<stdin>" : a.file;
    FILE *f = use_stdin ? stdin : fopen(a.file, "rb");
    if (!f) {
        fprintf(stderr, "cmee: %s: %s\n", name, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    d.buf = read_all(f, name, &len);
    if (!use_stdin)
        fclose(f);
    if (!d.buf)
        return CLI_EXIT_FAIL;

    rc = parse_csv(&d, len, name);
    if (rc == CLI_EXIT_OK)
        rc = compute_and_print(&a, &d);
    free(d.col);
    free(d.time_at);
    free(d.buf);
    return rc;
}
