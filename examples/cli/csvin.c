/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The input of cmee ind and cmee analyze: the CSV that `cmee gen` prints, from a file or stdin,
 * checked field by field with errors that name the line and the field. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The only input format: what `cmee gen --format csv` prints. */
#define CSV_HEADER "time,open,high,low,close,volume"
enum { NFIELDS = 6 };
static const char *const field_names[NFIELDS] = {"time", "open", "high", "low", "close", "volume"};

/* A finite decimal number spanning exactly [p, e): optional sign, digits with an optional point
 * (at least one digit), optional exponent. No blanks, hex, inf or nan: those are what strtod
 * would accept but a CSV of prices or a parameter never means. */
bool cli_parse_num(const char *p, const char *e, double *out)
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

/* Report "cmee: FILE:LINE: FIELD: reason[ 'value']"; returns CLI_EXIT_FAIL. The value is shown
 * up to 40 bytes with control bytes as '?', so a binary file cannot garble the terminal. */
int cli_bad_row(const char *file, size_t line, const char *field, const char *why, const char *v,
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
static int parse_csv(cli_csv *d, size_t len, const char *file)
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
                return cli_bad_row(file, line, "header", "empty input, expected '" CSV_HEADER "'",
                                   NULL, NULL);
            if ((size_t)(eol - p) != strlen(CSV_HEADER) ||
                memcmp(p, CSV_HEADER, strlen(CSV_HEADER)))
                return cli_bad_row(file, line, "header", "expected '" CSV_HEADER "', got", p, eol);
            p = next;
            continue;
        }
        if (eol == p)
            return cli_bad_row(file, line, "row", "empty line", NULL, NULL);

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
            return cli_bad_row(file, line, nf < NFIELDS ? field_names[nf] : "row", why, NULL, NULL);
        }
        f[NFIELDS] = eol + 1; /* so that field k always ends at f[k + 1] - 1 */

        size_t i = d->n;
        if (!is_ms(f[0], f[1] - 1))
            return cli_bad_row(file, line, "time", "expected whole milliseconds, got", f[0],
                               f[1] - 1);
        d->time_at[i] = (size_t)(f[0] - d->buf);
        for (int k = 1; k < NFIELDS; k++) {
            if (!cli_parse_num(f[k], f[k + 1] - 1, &d->col[(size_t)(k - 1) * rows + i]))
                return cli_bad_row(file, line, field_names[k], "expected a finite number, got",
                                   f[k], f[k + 1] - 1);
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

int cli_csv_load(const char *file, cli_csv *d)
{
    bool use_stdin = !file || strcmp(file, "-") == 0;
    size_t len = 0;

    memset(d, 0, sizeof *d);
    d->name = use_stdin ? "<stdin>" : file;
    FILE *f = use_stdin ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "cmee: %s: %s\n", d->name, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    d->buf = read_all(f, d->name, &len);
    if (!use_stdin)
        fclose(f);
    if (!d->buf)
        return CLI_EXIT_FAIL;
    return parse_csv(d, len, d->name);
}

void cli_csv_free(cli_csv *d)
{
    free(d->col);
    free(d->time_at);
    free(d->buf);
    d->col = NULL;
    d->time_at = NULL;
    d->buf = NULL;
    d->n = 0;
}

int64_t cli_csv_time(const cli_csv *d, size_t i)
{
    const char *p = d->buf + d->time_at[i];
    bool neg = *p == '-';
    uint64_t v = 0;

    /* is_ms() checked the digits and the range when the row was read. */
    for (p += neg; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    /* v - 1 fits in int64_t even for INT64_MIN's magnitude 2^63. */
    if (neg && v > 0)
        return -(int64_t)(v - 1) - 1;
    return (int64_t)v;
}
