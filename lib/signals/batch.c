/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Dedicated batch loops for the indicators whose speed matters most. The generic loop runs the
 * streaming kernel over the series; with its state in a struct the compiler keeps much of it in
 * memory, which puts store-to-load latency on every bar. These loops keep the state in locals
 * and read the window straight from the input, with exactly the kernel's arithmetic in the
 * same order: test_stream checks they equal the stream bit for bit, test_golden that they equal
 * TA-Lib.
 */
#include "batch.h"

static void fill_nan(double *out, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        out[i] = CMEE__NAN;
}

static void sma(const double *x, size_t n, size_t p, double *out)
{
    double sum = 0.0, dp = (double)p;
    size_t i = 0, head = p - 1 < n ? p - 1 : n;
    for (; i < head; i++)
        sum += x[i];
    fill_nan(out, 0, head);
    for (; i < n; i++) {
        sum += x[i];
        out[i] = sum / dp;
        sum -= x[i + 1 - p];
    }
}

static void ema(const double *x, size_t n, size_t p, double *out)
{
    double sum = 0.0, k = 2.0 / ((double)p + 1.0);
    size_t head = p - 1 < n ? p - 1 : n, i = 0;
    for (; i < head; i++)
        sum += x[i];
    fill_nan(out, 0, head);
    if (i >= n)
        return;
    sum += x[i];
    double prev = sum / (double)p;
    out[i++] = prev;
    for (; i < n; i++) {
        prev = ((x[i] - prev) * k) + prev;
        out[i] = prev;
    }
}

bool cmee__batch_fast(cmee_ind_id id, const double *p, const cmee_series *in, double *const *out)
{
    size_t n = in->n;
    switch (id) {
    case CMEE_IND_SMA:
        sma(in->close, n, cmee__pint(p, 0), out[0]);
        return true;
    case CMEE_IND_EMA:
        ema(in->close, n, cmee__pint(p, 0), out[0]);
        return true;
    default:
        return false;
    }
}
