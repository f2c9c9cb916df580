/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: indicator inputs (lib/signals). The bytes are decoded into an indicator id, its
 * parameters (defaults, in range, at and past the documented limits, huge, NaN, Inf) and a
 * series of random length whose values are mostly a sane random walk with NaN, Inf, zero,
 * negative and huge values mixed in. Every indicator is then computed in batch and streaming.
 *
 * Checked: status codes are CMEE_OK or CMEE_EINVAL (nothing else is documented for these
 * inputs); batch and lookback agree on parameter validity; a non-finite input is refused; and,
 * for moderate inputs, streaming gives the batch outputs bit for bit, as the header promises. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmee.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BARS 2048

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t byte(reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static uint32_t u32(reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | byte(r);
    return v;
}

static double raw_double(reader *r)
{
    uint64_t bits = (uint64_t)u32(r) << 32 | u32(r);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static double param(reader *r, const cmee_ind_info *info, size_t k, int *odd)
{
    uint8_t mode = byte(r);
    double lo = info->param_min[k], hi = info->param_max[k];
    switch (mode % 12) {
    case 0: return info->param_defaults[k];
    case 1: return lo;
    case 2: return hi;
    case 3: *odd = 1; return hi + 1;
    case 4: *odd = 1; return lo - 1;
    case 5: *odd = 1; return NAN;
    case 6: *odd = 1; return INFINITY;
    case 7: *odd = 1; return -INFINITY;
    case 8: *odd = 1; return 1e300; /* a huge period */
    case 9: *odd = 1; return (double)SIZE_MAX;
    case 10: *odd = 1; return raw_double(r);
    default: {
        /* Somewhere in range, sometimes not a whole number. */
        double t = (double)byte(r) / 255.0;
        double v = lo + t * (hi - lo);
        if (info->param_integer[k] && !(mode & 0x80))
            v = floor(v);
        else
            *odd = 1;
        return v;
    }
    }
}

static void check_status(cmee_status st, const char *what)
{
    if (st != CMEE_OK && st != CMEE_EINVAL) {
        fprintf(stderr, "%s: unexpected status %s\n", what, cmee_status_name(st));
        abort();
    }
}

static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    cmee_ind_id id = (cmee_ind_id)(byte(&r) % CMEE_IND_COUNT);
    const cmee_ind_info *info = cmee_ind_info_get(id);
    double params[CMEE_IND_MAX_PARAMS] = {0};
    int odd = 0, use_defaults = byte(&r) & 1;
    cmee_error err;

    if (!info)
        abort();
    for (size_t k = 0; k < info->nparams; k++)
        params[k] = param(&r, info, k, &odd);
    const double *pp = use_defaults ? NULL : params;

    size_t n = (size_t)(byte(&r) << 8 | byte(&r)) % (MAX_BARS + 1);
    double *cols = malloc(5 * (n ? n : 1) * sizeof *cols);
    double *outs = malloc(CMEE_IND_MAX_OUTPUTS * (n ? n : 1) * sizeof *outs);
    if (!cols || !outs)
        abort();

    /* A random walk of OHLCV bars with, now and then, a hostile value. */
    int finite = 1, moderate = 1;
    double price = 100;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = byte(&r);
        price *= 1 + ((double)(b & 0x3f) - 32) / 1000;
        double v[5] = {price, price * 1.01, price * 0.99, price * (1 + ((b >> 6) - 1.5) / 200),
                       1000 + b};
        if ((b & 0x0f) == 0x0f) {
            uint8_t which = byte(&r), kind = byte(&r);
            double bad;
            switch (kind % 8) {
            case 0: bad = NAN; break;
            case 1: bad = INFINITY; break;
            case 2: bad = -INFINITY; break;
            case 3: bad = 0; break;
            case 4: bad = -1e6; break;
            case 5: bad = 1e300; break;
            case 6: bad = 5e-324; break;
            default: bad = raw_double(&r); break;
            }
            v[which % 5] = bad;
        }
        for (int k = 0; k < 5; k++) {
            cols[(size_t)k * n + i] = v[k];
            if (!isfinite(v[k]))
                finite = 0;
            else if (fabs(v[k]) > 1e9 || (v[k] != 0 && fabs(v[k]) < 1e-9) || v[k] < 0)
                moderate = 0;
        }
    }

    cmee_series s = {cols, cols + n, cols + 2 * n, cols + 3 * n, cols + 4 * n, n};
    double *out[CMEE_IND_MAX_OUTPUTS];
    for (size_t k = 0; k < CMEE_IND_MAX_OUTPUTS; k++)
        out[k] = outs + k * n;

    size_t lookback = 0;
    cmee_status lst = cmee_ind_lookback(id, pp, &lookback, &err);
    check_status(lst, "lookback");
    cmee_status bst = cmee_ind_compute(id, pp, &s, out, &err);
    if (bst == CMEE_ENOMEM) /* a huge but valid window on a big series */
        goto done;
    check_status(bst, "compute");
    if (lst != CMEE_OK && bst == CMEE_OK) {
        fprintf(stderr, "%s: compute accepted parameters lookback refused\n", info->name);
        abort();
    }
    if (bst == CMEE_OK && !finite && (info->inputs != 0) && n > 0) {
        /* A non-finite value in a field the indicator reads must be refused; one in a field it
         * does not read is fine. */
        static const unsigned masks[5] = {CMEE_IN_OPEN, CMEE_IN_HIGH, CMEE_IN_LOW, CMEE_IN_CLOSE,
                                          CMEE_IN_VOLUME};
        for (int k = 0; k < 5; k++)
            if (info->inputs & masks[k])
                for (size_t i = 0; i < n; i++)
                    if (!isfinite(cols[(size_t)k * n + i])) {
                        fprintf(stderr, "%s: accepted a non-finite input\n", info->name);
                        abort();
                    }
    }

    cmee_ind_stream *st = NULL;
    cmee_status sst = cmee_ind_stream_new(id, pp, NULL, &st, &err);
    if (sst == CMEE_ENOMEM)
        goto done;
    check_status(sst, "stream_new");
    if ((sst == CMEE_OK) != (lst == CMEE_OK)) {
        fprintf(stderr, "%s: stream_new and lookback disagree on the parameters\n", info->name);
        abort();
    }
    if (sst == CMEE_OK) {
        bool compare = bst == CMEE_OK && moderate && finite;
        for (size_t i = 0; i < n; i++) {
            cmee_candle bar = {(int64_t)i * 60000, cols[i], cols[n + i], cols[2 * n + i],
                               cols[3 * n + i], cols[4 * n + i]};
            double o[CMEE_IND_MAX_OUTPUTS];
            cmee_status ust = cmee_ind_stream_update(st, &bar, o);
            check_status(ust, "stream_update");
            if (compare && ust == CMEE_OK)
                for (size_t k = 0; k < info->noutputs; k++)
                    if (!same(o[k], out[k][i])) {
                        fprintf(stderr, "%s: output %zu at bar %zu: stream %.17g, batch %.17g\n",
                                info->name, k, i, o[k], out[k][i]);
                        abort();
                    }
        }
        cmee_ind_stream_reset(st);
        cmee_ind_stream_free(st);
    }
done:
    free(cols);
    free(outs);
    return 0;
}
