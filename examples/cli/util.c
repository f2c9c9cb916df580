/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Parsing, number formatting and checked output for the cmee tool. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* clock_gettime */
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;

    fputs(usage, stderr);
    fputs("cmee: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_USAGE;
}

int cli_getopt_error(const char *usage, int ret, char **argv)
{
    /* getopt_long has already advanced optind past the offending word. */
    const char *word = argv[optind - 1];

    if (ret == ':')
        return cli_usage_error(usage, "option '%s' requires an argument", word);
    /* A bad short option may sit inside a group ("-hx"); name the letter then. */
    if (optopt != 0 && strncmp(word, "--", 2) != 0)
        return cli_usage_error(usage, "unknown option '-%c'", optopt);
    return cli_usage_error(usage, "unknown or ambiguous option '%s'", word);
}

int cli_lib_error(const cmee_market *m, cmee_status st)
{
    const char *msg = m ? cmee_market_errmsg(m) : "";

    /* errmsg names the bad field; fall back to the status text if the library left it empty. */
    fprintf(stderr, "cmee: %s\n", msg && msg[0] ? msg : cmee_status_str(st));
    return CLI_EXIT_FAIL;
}

cmee_market *cli_market_new(uint64_t seed)
{
    cmee_market *m = NULL;
    cmee_status st = cmee_market_new(seed, NULL, &m);

    if (st != CMEE_OK) {
        fprintf(stderr, "cmee: cannot create the market: %s\n", cmee_status_str(st));
        return NULL;
    }
    return m;
}

/* Decimal digits of @p v (< 10^19) into @p p; returns the end. */
static char *put_u64(char *p, uint64_t v, int min_digits)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < min_digits);
    while (n)
        *p++ = tmp[--n];
    return p;
}

size_t cli_int64(char *buf, int64_t v)
{
    char *p = buf;

    if (v < 0)
        *p++ = '-';
    /* Negate in unsigned arithmetic so that INT64_MIN works too. */
    p = put_u64(p, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 1);
    *p = '\0';
    return (size_t)(p - buf);
}

/* The common case without snprintf and strtod, which dominate gen's run time: v equals the
 * double nearest to k / 10^p for an integer k below 10^15 and p <= 10. Such a decimal has at most
 * 15 significant digits, so %.15g reproduces exactly it and it reads back as v; printed in fixed
 * notation with trailing zeros dropped, as %g does in [1e-4, 1e15). Returns 0 if v is not such a
 * value. */
static size_t fmt_decimal(char *buf, double v)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};
    static const uint64_t ipow10[] = {1,       10,       100,       1000,       10000,      100000,
                                      1000000, 10000000, 100000000, 1000000000, 10000000000};

    if (!(v >= 1e-4 && v < 1e15))
        return 0;
    for (int p = 0; p <= 10; p++) {
        double x = v * pow10[p];
        if (x >= 1e15)
            return 0;
        uint64_t ik = (uint64_t)(x + 0.5);
        /* Both operands are exact, so the quotient is the correctly rounded k / 10^p: the
         * double strtod gives for the decimal. */
        if ((double)ik / pow10[p] != v)
            continue;
        char *q = put_u64(buf, ik / ipow10[p], 1);
        if (p > 0) {
            *q++ = '.';
            q = put_u64(q, ik % ipow10[p], p);
            /* The smallest p has no trailing zero; stay %g-shaped even if that ever slips. */
            while (q[-1] == '0')
                q--;
            if (q[-1] == '.')
                q--;
        }
        *q = '\0';
        return (size_t)(q - buf);
    }
    return 0;
}

size_t cli_fmt_double(char buf[static CLI_NUM_MAX], double v)
{
    int len = 0;
    size_t n = fmt_decimal(buf, v);

    if (n)
        return n;
    /* %.17g always reads back exactly, but shows binary noise (67234.509999999995); the
     * shorter precisions give the decimal a person expects whenever they are just as exact. */
    /* A local buffer: GCC 12 with -fsanitize=address at -O3 cannot see that buf is non-null and
     * warns (-Wformat-truncation) on snprintf into the parameter. */
    char tmp[CLI_NUM_MAX];
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (len <= 0 || len >= CLI_NUM_MAX)
        return 0;
    memcpy(buf, tmp, (size_t)len + 1);
    return (size_t)len;
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Parse exactly @p n digits at @p s. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil); avoids
 * timegm, which is neither C11 nor POSIX and depends on the TZ machinery. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Digits with an optional leading '-'. */
static bool is_integer(const char *s)
{
    s += *s == '-';
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

bool cli_parse_time(const char *s, int64_t *out, const char **why)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, ms = 0;
    const char *p;

    if (is_integer(s)) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE) {
            *why = "milliseconds out of range";
            return false;
        }
        *out = (int64_t)v;
        return true;
    }
    /* digits() stops at the first non-digit, so a short string never reads past its NUL. */
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec)) {
        *why = "expected milliseconds or an ISO-8601 UTC time like 2030-03-01T00:00:00Z";
        return false;
    }
    p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                ms = ms * 10 + (*p - '0');
        if (n == 0 || n > 3) {
            *why = "fractional seconds must have 1 to 3 digits (milliseconds)";
            return false;
        }
        for (; n < 3; n++)
            ms *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0') {
        *why = "the time must end in 'Z' (UTC); offsets are not accepted";
        return false;
    }
    if (mo < 1 || mo > 12) {
        *why = "month out of range";
        return false;
    }
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y))) {
        *why = "day out of range for the month";
        return false;
    }
    if (h > 23 || mi > 59 || sec > 59) {
        *why = "time of day out of range";
        return false;
    }
    *out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * INT64_C(60000) + sec * 1000 + ms;
    return true;
}

int cli_time_opt(const char *usage, const char *name, const char *val, int64_t *out)
{
    const char *why = "";

    if (!cli_parse_time(val, out, &why))
        return cli_usage_error(usage, "--%s: %s, got '%s'", name, why, val);
    return CLI_EXIT_OK;
}

int cli_seed_opt(const char *usage, const char *val, uint64_t *out)
{
    if (!cli_parse_u64(val, out))
        return cli_usage_error(usage,
                               "--seed: expected a whole number from 0 to %" PRIu64 ", got '%s'",
                               UINT64_MAX, val);
    return CLI_EXIT_OK;
}

int64_t cli_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (int64_t)time(NULL) * 1000;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* errno of the first failed write to stdout, 0 while all is well. */
static int out_errno;

bool cli_write(const char *p, size_t n)
{
    if (out_errno)
        return false;
    errno = 0;
    if (fwrite(p, 1, n, stdout) != n) {
        out_errno = errno ? errno : EIO;
        return false;
    }
    return true;
}

bool cli_puts(const char *s)
{
    return cli_write(s, strlen(s));
}

int cli_output_close(void)
{
    errno = 0;
    if (!out_errno && (fflush(stdout) != 0 || ferror(stdout)))
        out_errno = errno ? errno : EIO;
    if (!out_errno || out_errno == EPIPE)
        return CLI_EXIT_OK;
    fprintf(stderr, "cmee: write error: %s\n", strerror(out_errno));
    return CLI_EXIT_FAIL;
}

int cli_session_open(const char *db, const char *id, cmee_store **store, cmee_session **s)
{
    cmee_store_options opt;
    cmee_store_options_init(&opt);
    opt.must_exist = true;
    cmee_error err;
    *store = NULL;
    *s = NULL;
    cmee_status st = cmee_store_open(db, &opt, NULL, store, &err);
    if (st != CMEE_OK) {
        fprintf(stderr, "cmee: %s: %s\n", db, err.text[0] ? err.text : cmee_status_str(st));
        return CLI_EXIT_FAIL;
    }
    st = cmee_session_load(*store, id, NULL, s, &err);
    if (st != CMEE_OK) {
        if (st == CMEE_ENOTFOUND)
            fprintf(stderr, "cmee: session \"%.64s\" not found in %s\n", id, db);
        else
            fprintf(stderr, "cmee: session \"%.64s\": %s\n", id,
                    err.text[0] ? err.text : cmee_status_str(st));
        cmee_store_close(*store);
        *store = NULL;
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
