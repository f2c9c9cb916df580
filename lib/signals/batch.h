/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Batch kernels for the indicators where running the k_*.h state machine bar by bar leaves
 * speed on the table. Each one performs exactly the floating-point operations of its kernel, in
 * the same order, so its outputs are bit-identical to the stream's (test_stream checks that for
 * every indicator, with extra cases for these paths); what differs is where the operands come
 * from (the input arrays, not a ring buffer) and what runs beside the bar-to-bar chain: work
 * that does not feed the chain (divisions, square roots, CCI's window sums) is done for two or
 * four bars at once in vector registers. Vector lanes round exactly as scalar operations do.
 *
 * These kernels read input values again after writing earlier outputs, so compute.c calls them
 * only when no output array overlaps an input array or another output.
 */
#ifndef CMEE_SIGNALS_BATCH_H
#define CMEE_SIGNALS_BATCH_H

#include <stdlib.h>

#include "kernels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* AVX2 variants, chosen at run time; -DCMEE_SIGNALS_NO_AVX2 leaves them out (the SSE2 paths
 * are then used everywhere, which is how their tests run on an AVX2 machine). Each 256-bit
 * region ends with an explicit vzeroupper: compilers do not always emit one across calls
 * between target("avx2") functions, and left dirty, the upper halves made the SSE code that
 * ran after (other indicators, the caller's own) up to 2.7x slower on the AMD EPYC we measure
 * on. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(CMEE_SIGNALS_NO_AVX2)
#include <immintrin.h>
#define BATCH_X86_AVX2 1
#endif

/* BATCH_BAD: some input value is not finite and nothing was written. */
typedef enum { BATCH_NONE, BATCH_DONE, BATCH_NOMEM, BATCH_BAD } batch_result;

static inline size_t batch_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void batch_nan(double *restrict o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        o[i] = CMEE__NAN;
}

/* ---- SMA (sma_step): add the new value, output sum / p, subtract the oldest. ---- */
static void batch_sma(const double *restrict x, size_t n, size_t p, double *restrict o)
{
    const double pd = (double)p;
    size_t warm = batch_min(p - 1, n), i = 0;
    double sum = 0.0;
    for (; i < warm; i++)
        sum += x[i];
    batch_nan(o, warm);
    for (; i < n; i++) {
        sum += x[i];
        o[i] = sum / pd;
        sum -= x[i + 1 - p];
    }
}

/* ---- WMA (wma_step): the trailing value subtracted at bar i is x[i - p], 0 at bar p - 1 (a
 * subtraction of +0, which leaves every value as it is). ---- */
static void batch_wma(const double *restrict x, size_t n, size_t p, double *restrict o)
{
    const double pd = (double)p, divider = (double)((p * (p + 1)) >> 1);
    size_t warm = batch_min(p - 1, n), i = 0;
    double sum = 0.0, wsum = 0.0;
    for (; i < warm; i++) {
        sum += x[i];
        wsum += x[i] * (double)(i + 1);
    }
    batch_nan(o, warm);
    if (i < n) {
        sum += x[i];
        wsum += x[i] * pd;
        o[i] = wsum / divider;
        wsum -= sum;
        i++;
    }
    for (; i < n; i++) {
        sum += x[i];
        sum -= x[i - p];
        wsum += x[i] * pd;
        o[i] = wsum / divider;
        wsum -= sum;
    }
}

/* ---- MOM and ROC (k_mom_update, k_roc_update): no chain at all; the loops vectorise. ---- */
static void batch_mom(const double *restrict x, size_t n, size_t p, double *restrict o)
{
    size_t warm = batch_min(p, n);
    batch_nan(o, warm);
    for (size_t i = warm; i < n; i++)
        o[i] = x[i] - x[i - p];
}

static void batch_roc(const double *restrict x, size_t n, size_t p, double *restrict o)
{
    size_t warm = batch_min(p, n), i = warm;
    batch_nan(o, warm);
#if defined(__SSE2__)
    /* Two bars per division; the quotient is computed either way and masked to the kernel's
     * +0 where the old close is 0 (compilers do not vectorise the plain ternary). */
    const __m128d one = _mm_set1_pd(1.0), hundred = _mm_set1_pd(100.0), zero = _mm_setzero_pd();
    for (; i + 2 <= n; i += 2) {
        __m128d old = _mm_loadu_pd(x + i - p);
        __m128d r = _mm_mul_pd(_mm_sub_pd(_mm_div_pd(_mm_loadu_pd(x + i), old), one), hundred);
        _mm_storeu_pd(o + i, _mm_and_pd(r, _mm_cmpneq_pd(old, zero)));
    }
#endif
    for (; i < n; i++) {
        double old = x[i - p];
        o[i] = old != 0.0 ? ((x[i] / old) - 1.0) * 100.0 : 0.0;
    }
}

/* ---- MACD (macd_step): TA-Lib's exact EMA form, ((x - prev) k) + prev, for the slow EMA from
 * bar 0, the fast one from bar slow - fast, both seeded at bar slow - 1; the signal EMA of the
 * line seeded signal - 1 bars later. After that, three independent chains. ---- */
typedef struct macd_chain {
    double sp, fp, gp; /* slow, fast and signal EMAs */
} macd_chain;

/* Bars 0 .. lookback (the seeding, through the first output), or all n if fewer; returns the
 * next bar and leaves the EMAs in *c. Writes the outputs only if `write`. */
static inline size_t macd_seed(const double *restrict x, size_t n, const macd_state *st,
                               macd_chain *c, bool write, double *restrict o0,
                               double *restrict o1, double *restrict o2)
{
    const size_t nfast = st->nfast, nslow = st->nslow, nsig = st->signal.p;
    const double kf = st->fast.k, ks = st->slow.k;
    size_t i = 0, warm = batch_min(nslow - 1, n);
    double fsum = 0.0, ssum = 0.0, gsum = 0.0;
    for (; i < warm; i++) {
        ssum += x[i];
        if (i + nfast >= nslow)
            fsum += x[i];
    }
    if (write) {
        batch_nan(o0, warm);
        batch_nan(o1, warm);
        batch_nan(o2, warm);
    }
    if (i == n)
        return n;
    /* Bar slow - 1: both EMAs seeded with their SMAs, then nsig lines for the signal's. */
    ssum += x[i];
    fsum += x[i];
    double sp = ssum / (double)nslow, fp = fsum / (double)nfast, gp;
    double line = fp - sp;
    for (size_t ng = 1;; ng++) {
        gsum += line;
        if (ng == nsig) {
            gp = gsum / (double)nsig;
            if (write) {
                o0[i] = line;
                o1[i] = gp;
                o2[i] = line - gp;
            }
            break;
        }
        if (write)
            o0[i] = o1[i] = o2[i] = CMEE__NAN;
        if (++i == n)
            return n;
        sp = ((x[i] - sp) * ks) + sp;
        fp = ((x[i] - fp) * kf) + fp;
        line = fp - sp;
    }
    *c = (macd_chain){sp, fp, gp};
    return i + 1;
}

static inline void macd_step_chain(macd_chain *c, double x, double ks, double kf, double kg)
{
    c->sp = ((x - c->sp) * ks) + c->sp;
    c->fp = ((x - c->fp) * kf) + c->fp;
    c->gp = (((c->fp - c->sp) - c->gp) * kg) + c->gp;
}

static void batch_macd(const double *restrict x, size_t n, const double *p, double *restrict o0,
                       double *restrict o1, double *restrict o2)
{
    macd_state st;
    macd_init(&st, cmee__pint(p, 0), cmee__pint(p, 1), cmee__pint(p, 2));
    const double kf = st.fast.k, ks = st.slow.k, kg = st.signal.k;
    macd_chain c = {0.0, 0.0, 0.0};
    for (size_t i = macd_seed(x, n, &st, &c, true, o0, o1, o2); i < n; i++) {
        macd_step_chain(&c, x[i], ks, kf, kg);
        double line = c.fp - c.sp;
        o0[i] = line;
        o1[i] = c.gp;
        o2[i] = line - c.gp;
    }
}

/* ---- ATR and NATR (atr_step): the true range is computed branch-free beside the Wilder
 * chain, atr (p-1)/p + tr / p, a multiply and an add per bar. ---- */
static inline double natr_of(double atr, double c)
{
    return c != 0.0 ? (atr / c) * 100.0 : 0.0;
}

/* Bars 0 .. p (the seeding, through the first output), or all n if fewer, for p >= 2; returns
 * the next bar and the ATR in *atr. Writes the outputs only if `write`. */
static inline size_t atr_seed(const double *restrict h, const double *restrict l,
                              const double *restrict c, size_t n, size_t p, bool natr,
                              double *atr, bool write, double *restrict o)
{
    size_t warm = batch_min(p, n), i = 1;
    double sum = 0.0;
    for (; i < warm; i++)
        sum += cmee__true_range(h[i], l[i], c[i - 1]);
    if (write)
        batch_nan(o, warm);
    if (warm == n)
        return n;
    sum += cmee__true_range(h[p], l[p], c[p - 1]);
    *atr = sum / (double)p;
    if (write)
        o[p] = natr ? natr_of(*atr, c[p]) : *atr;
    return p + 1;
}

static void batch_atr(const double *restrict h, const double *restrict l,
                      const double *restrict c, size_t n, size_t p, bool natr,
                      double *restrict o)
{
    atr_state st;
    atr_init(&st, p);
    const double decay = st.decay, inv_p = st.inv_p;
    if (n == 0)
        return;
    if (p == 1) {
        o[0] = CMEE__NAN;
        for (size_t i = 1; i < n; i++) {
            double tr = cmee__true_range(h[i], l[i], c[i - 1]);
            o[i] = natr ? natr_of(tr, c[i]) : tr;
        }
        return;
    }
    double atr = 0.0;
    size_t i = atr_seed(h, l, c, n, p, natr, &atr, true, o);
    if (natr) {
        for (; i < n; i++) {
            atr = (atr * decay) + (cmee__true_range(h[i], l[i], c[i - 1]) * inv_p);
            o[i] = natr_of(atr, c[i]);
        }
    } else {
        for (; i < n; i++) {
            atr = (atr * decay) + (cmee__true_range(h[i], l[i], c[i - 1]) * inv_p);
            o[i] = atr;
        }
    }
}

#if defined(__SSE2__)
/* ---- Chain-bound kernels (SMA, ATR, NATR) with the finiteness check folded in. Their time
 * goes to one dependency chain per bar (two adds for SMA's running sum, a multiply and an add
 * for ATR's Wilder average), which leaves most of the core idle, while checking the inputs in
 * a pass of its own costs 0.1-0.3 ns a value on top. So pass 1 runs the chain to the middle of the series, writing nothing, and
 * checks every input value alongside; if all are finite, pass 2 runs the two halves side by
 * side in the two lanes of a register, the second half starting from the state pass 1 reached.
 * Each bar gets the same operations in the same order as in the kernel, and nothing is written
 * unless every input value is finite (compute.c's check then names the first bad one). ---- */

#define BATCH_SPLIT_MIN 64 /* shorter series (past the lookback) use the plain kernels */

/* OR into bad, per lane, the top bit of (exponent bits + 1) of x[j] and x[j + 1]: it is set
 * exactly for NaN and infinities (the test compute.c's all_finite makes). */
static inline __m128i chk2(__m128i bad, const double *x, size_t j)
{
    const __m128i e = _mm_set1_epi64x(0x7ff0000000000000), one = _mm_set1_epi64x(INT64_C(1) << 52);
    __m128i v = _mm_loadu_si128((const __m128i *)(x + j));
    return _mm_or_si128(bad, _mm_add_epi64(_mm_and_si128(v, e), one));
}

static inline __m128i chk_range(__m128i bad, const double *x, size_t from, size_t to)
{
    const __m128i e = _mm_set1_epi64x(0x7ff0000000000000), one = _mm_set1_epi64x(INT64_C(1) << 52);
    size_t j = from;
    for (; j + 2 <= to; j += 2)
        bad = chk2(bad, x, j);
    if (j < to) /* the last one alone; the empty upper lane gives 0 + 2^52, no top bit */
        bad = _mm_or_si128(bad, _mm_add_epi64(
                                    _mm_and_si128(_mm_loadl_epi64((const __m128i *)(x + j)), e),
                                    one));
    return bad;
}

static inline bool chk_ok(__m128i bad)
{
    return _mm_movemask_pd(_mm_castsi128_pd(bad)) == 0;
}

/* [x[i], x[k]] and the converse store. */
static inline __m128d lanes(const double *x, size_t i, size_t k)
{
    return _mm_loadh_pd(_mm_load_sd(x + i), x + k);
}

static inline void store_lanes(double *o, size_t i, size_t k, __m128d v)
{
    _mm_storel_pd(o + i, v);
    _mm_storeh_pd(o + k, v);
}

static inline double lane_hi(__m128d v)
{
    return _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
}

/* SMA: the chain is the running sum, from bar s = p - 1 on. */
static batch_result batch_sma_split(const double *restrict x, size_t n, size_t p,
                                    double *restrict o)
{
    const size_t s = p - 1;
    if (n < s + BATCH_SPLIT_MIN)
        return BATCH_NONE;
    const size_t half = (n - s) / 2, k0 = s + half;
    double sum0 = 0.0;
    for (size_t i = 0; i < s; i++)
        sum0 += x[i];
    double sum = sum0;
    __m128i bad = _mm_setzero_si128();
    for (size_t i = s, j = 0; i < k0; i++, j += 2) {
        sum += x[i];
        sum -= x[i + 1 - p];
        bad = chk2(bad, x, j);
    }
    if (!chk_ok(chk_range(bad, x, 2 * half, n)))
        return BATCH_BAD;

    batch_nan(o, s);
    const __m128d pdv = _mm_set1_pd((double)p);
    __m128d acc = _mm_set_pd(sum, sum0); /* lanes: bar i of the first half, bar k of the second */
    for (size_t i = s, k = k0; i < k0; i++, k++) {
        acc = _mm_add_pd(acc, lanes(x, i, k));
        store_lanes(o, i, k, _mm_div_pd(acc, pdv));
        acc = _mm_sub_pd(acc, lanes(x, i + 1 - p, k + 1 - p));
    }
    if (s + 2 * half < n) /* the second half has one bar more */
        o[n - 1] = (lane_hi(acc) + x[n - 1]) / (double)p;
    return BATCH_DONE;
}

/* ATR and NATR, p >= 2: the chain is the Wilder average, from bar s = p + 1 on. */
static batch_result batch_atr_split(const double *restrict h, const double *restrict l,
                                    const double *restrict c, size_t n, size_t p, bool natr,
                                    double *restrict o)
{
    const size_t s = p + 1;
    if (p < 2 || n < s + BATCH_SPLIT_MIN)
        return BATCH_NONE;
    atr_state st;
    atr_init(&st, p);
    const double decay = st.decay, inv_p = st.inv_p;
    const size_t half = (n - s) / 2, k0 = s + half, pairs = half / 2;
    double atr0 = 0.0;
    atr_seed(h, l, c, n, p, natr, &atr0, false, NULL);
    /* Two bars a step: their high, low and close pairs are loaded once, checked, and feed the
     * chain; the same pairs of the second half are only checked. Everything else (the first
     * s bars, at most one bar before k0 and three at the end) is checked after. */
    const __m128i e = _mm_set1_epi64x(0x7ff0000000000000), one = _mm_set1_epi64x(INT64_C(1) << 52);
    const __m128d abs = _mm_castsi128_pd(_mm_set1_epi64x(INT64_MAX));
    __m128i bad = _mm_setzero_si128();
    double atr = atr0, prev = c[s - 1];
    for (size_t m = 0; m < pairs; m++) {
        size_t i = s + 2 * m, f = k0 + 2 * m;
        __m128d hv = _mm_loadu_pd(h + i), lv = _mm_loadu_pd(l + i), cv = _mm_loadu_pd(c + i);
        bad = _mm_or_si128(bad, _mm_add_epi64(_mm_and_si128(_mm_castpd_si128(hv), e), one));
        bad = _mm_or_si128(bad, _mm_add_epi64(_mm_and_si128(_mm_castpd_si128(lv), e), one));
        bad = _mm_or_si128(bad, _mm_add_epi64(_mm_and_si128(_mm_castpd_si128(cv), e), one));
        bad = chk2(chk2(chk2(bad, h, f), l, f), c, f);
        /* cmee__true_range of bars i and i + 1: max(|pc - l|, max(|pc - h|, h - l)) */
        __m128d pc = _mm_unpacklo_pd(_mm_set_sd(prev), cv);
        __m128d tr = _mm_sub_pd(hv, lv);
        tr = _mm_max_pd(_mm_and_pd(_mm_sub_pd(pc, hv), abs), tr);
        tr = _mm_max_pd(_mm_and_pd(_mm_sub_pd(pc, lv), abs), tr);
        atr = (atr * decay) + (_mm_cvtsd_f64(tr) * inv_p);
        atr = (atr * decay) + (lane_hi(tr) * inv_p);
        prev = lane_hi(cv);
    }
    if (half % 2) { /* the first half's last bar */
        size_t i = k0 - 1;
        atr = (atr * decay) + (cmee__true_range(h[i], l[i], c[i - 1]) * inv_p);
    }
    const double *arr[3] = {h, l, c};
    for (int a = 0; a < 3; a++) {
        bad = chk_range(bad, arr[a], 0, s);
        bad = chk_range(bad, arr[a], s + 2 * pairs, k0);
        bad = chk_range(bad, arr[a], k0 + 2 * pairs, n);
    }
    if (!chk_ok(bad))
        return BATCH_BAD;

    atr_seed(h, l, c, n, p, natr, &atr0, true, o);
    const __m128d dec = _mm_set1_pd(decay), ip = _mm_set1_pd(inv_p),
                  hundred = _mm_set1_pd(100.0), zero = _mm_setzero_pd();
    __m128d a = _mm_set_pd(atr, atr0);
    for (size_t i = s, k = k0; i < k0; i++, k++) {
        /* cmee__true_range in both lanes: max(|prev - l|, max(|prev - h|, h - l)). */
        __m128d hi = lanes(h, i, k), lo = lanes(l, i, k), pc = lanes(c, i - 1, k - 1);
        __m128d tr = _mm_sub_pd(hi, lo);
        tr = _mm_max_pd(_mm_and_pd(_mm_sub_pd(pc, hi), abs), tr);
        tr = _mm_max_pd(_mm_and_pd(_mm_sub_pd(pc, lo), abs), tr);
        a = _mm_add_pd(_mm_mul_pd(a, dec), _mm_mul_pd(tr, ip));
        if (natr) {
            __m128d cc = lanes(c, i, k);
            __m128d v = _mm_mul_pd(_mm_div_pd(a, cc), hundred);
            store_lanes(o, i, k, _mm_and_pd(v, _mm_cmpneq_pd(cc, zero)));
        } else {
            store_lanes(o, i, k, a);
        }
    }
    if (s + 2 * half < n) {
        size_t k = n - 1;
        double b = (lane_hi(a) * decay) + (cmee__true_range(h[k], l[k], c[k - 1]) * inv_p);
        o[k] = natr ? natr_of(b, c[k]) : b;
    }
    return BATCH_DONE;
}

#endif

#if defined(__SSE2__)
/* ---- BBANDS and STDDEV (bbands_step, stddev_step): the running sums of x and x^2 are one
 * chain in the two lanes of a register, [sum, sum2] + [x, x^2] - [old, old^2]; the means
 * [sum, sum2] / p of two bars, their variances and square roots go through the divider as
 * vectors. The scalar kernels spend their time waiting for it: two divisions and a square root
 * a bar. With `bands` the outputs are upper, middle, lower; without, o0 is the deviation. ---- */
static inline __m128d bb_pair(double v)
{
    return _mm_set_pd(v * v, v); /* [v, v^2] */
}

/* The outputs of bars i and i + 1 from their (pre-subtraction) sums s0 and s1. */
static inline void bb_out2(__m128d s0, __m128d s1, __m128d pdv, __m128d up, __m128d down,
                           bool bands, double *o0, double *o1, double *o2, size_t i)
{
    __m128d m0 = _mm_div_pd(s0, pdv), m1 = _mm_div_pd(s1, pdv);
    __m128d mid = _mm_unpacklo_pd(m0, m1), m2 = _mm_unpackhi_pd(m0, m1);
    __m128d var = _mm_sub_pd(m2, _mm_mul_pd(mid, mid));
    __m128d sd = _mm_and_pd(_mm_sqrt_pd(var), _mm_cmpgt_pd(var, _mm_setzero_pd()));
    if (bands) {
        _mm_storeu_pd(o0 + i, _mm_add_pd(mid, _mm_mul_pd(sd, up)));
        _mm_storeu_pd(o1 + i, mid);
        _mm_storeu_pd(o2 + i, _mm_sub_pd(mid, _mm_mul_pd(sd, down)));
    } else {
        _mm_storeu_pd(o0 + i, sd);
    }
}

static void batch_bbands_sse2(const double *restrict x, size_t n, size_t p, double up,
                              double down, bool bands, double *restrict o0,
                              double *restrict o1, double *restrict o2)
{
    const __m128d pdv = _mm_set1_pd((double)p), upv = _mm_set1_pd(up),
                  downv = _mm_set1_pd(down);
    size_t warm = batch_min(p - 1, n), i = 0;
    __m128d acc = _mm_setzero_pd();
    for (; i < warm; i++)
        acc = _mm_add_pd(acc, bb_pair(x[i]));
    batch_nan(o0, warm);
    if (bands) {
        batch_nan(o1, warm);
        batch_nan(o2, warm);
    }
    for (; i + 2 <= n; i += 2) {
        __m128d s0 = _mm_add_pd(acc, bb_pair(x[i]));
        acc = _mm_sub_pd(s0, bb_pair(x[i + 1 - p]));
        __m128d s1 = _mm_add_pd(acc, bb_pair(x[i + 1]));
        acc = _mm_sub_pd(s1, bb_pair(x[i + 2 - p]));
        bb_out2(s0, s1, pdv, upv, downv, bands, o0, o1, o2, i);
    }
    if (i < n) { /* the last bar alone: its lane pair twice, one written */
        __m128d s0 = _mm_add_pd(acc, bb_pair(x[i]));
        double t0[2], t1[2], t2[2];
        bb_out2(s0, s0, pdv, upv, downv, bands, t0, t1, t2, 0);
        o0[i] = t0[0];
        if (bands) {
            o1[i] = t1[0];
            o2[i] = t2[0];
        }
    }
}

#if defined(BATCH_X86_AVX2)
/* The same with four bars per step: two [sum, sum2] pairs per 256-bit division. */
__attribute__((target("avx2"))) static void
batch_bbands_avx2(const double *restrict x, size_t n, size_t p, double up, double down, bool bands,
                  double *restrict o0, double *restrict o1, double *restrict o2)
{
    const __m128d pdv2 = _mm_set1_pd((double)p);
    const __m256d pdv = _mm256_set1_pd((double)p), upv = _mm256_set1_pd(up),
                  downv = _mm256_set1_pd(down), zero = _mm256_setzero_pd();
    size_t warm = batch_min(p - 1, n), i = 0;
    __m128d acc = _mm_setzero_pd();
    for (; i < warm; i++)
        acc = _mm_add_pd(acc, bb_pair(x[i]));
    batch_nan(o0, warm);
    if (bands) {
        batch_nan(o1, warm);
        batch_nan(o2, warm);
    }
    for (; i + 4 <= n; i += 4) {
        __m128d s0 = _mm_add_pd(acc, bb_pair(x[i]));
        acc = _mm_sub_pd(s0, bb_pair(x[i + 1 - p]));
        __m128d s1 = _mm_add_pd(acc, bb_pair(x[i + 1]));
        acc = _mm_sub_pd(s1, bb_pair(x[i + 2 - p]));
        __m128d s2 = _mm_add_pd(acc, bb_pair(x[i + 2]));
        acc = _mm_sub_pd(s2, bb_pair(x[i + 3 - p]));
        __m128d s3 = _mm_add_pd(acc, bb_pair(x[i + 3]));
        acc = _mm_sub_pd(s3, bb_pair(x[i + 4 - p]));
        /* [mid0, m2_0, mid1, m2_1] and [mid2, m2_2, mid3, m2_3] */
        __m256d a = _mm256_div_pd(_mm256_set_m128d(s1, s0), pdv);
        __m256d b = _mm256_div_pd(_mm256_set_m128d(s3, s2), pdv);
        /* [mid0, mid2, mid1, mid3] -> bar order [mid0, mid1, mid2, mid3] */
        __m256d mid = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xd8);
        __m256d m2 = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xd8);
        __m256d var = _mm256_sub_pd(m2, _mm256_mul_pd(mid, mid));
        __m256d sd =
            _mm256_and_pd(_mm256_sqrt_pd(var), _mm256_cmp_pd(var, zero, _CMP_GT_OQ));
        if (bands) {
            _mm256_storeu_pd(o0 + i, _mm256_add_pd(mid, _mm256_mul_pd(sd, upv)));
            _mm256_storeu_pd(o1 + i, mid);
            _mm256_storeu_pd(o2 + i, _mm256_sub_pd(mid, _mm256_mul_pd(sd, downv)));
        } else {
            _mm256_storeu_pd(o0 + i, sd);
        }
    }
    _mm256_zeroupper(); /* see BATCH_X86_AVX2 */
    for (; i + 2 <= n; i += 2) {
        __m128d s0 = _mm_add_pd(acc, bb_pair(x[i]));
        acc = _mm_sub_pd(s0, bb_pair(x[i + 1 - p]));
        __m128d s1 = _mm_add_pd(acc, bb_pair(x[i + 1]));
        acc = _mm_sub_pd(s1, bb_pair(x[i + 2 - p]));
        bb_out2(s0, s1, pdv2, _mm_set1_pd(up), _mm_set1_pd(down), bands, o0, o1, o2, i);
    }
    if (i < n) {
        __m128d s0 = _mm_add_pd(acc, bb_pair(x[i]));
        double t0[2], t1[2], t2[2];
        bb_out2(s0, s0, pdv2, _mm_set1_pd(up), _mm_set1_pd(down), bands, t0, t1, t2, 0);
        o0[i] = t0[0];
        if (bands) {
            o1[i] = t1[0];
            o2[i] = t2[0];
        }
    }
}
#endif

static void batch_bbands(const double *restrict x, size_t n, size_t p, double up, double down,
                         bool bands, double *restrict o0, double *restrict o1,
                         double *restrict o2)
{
#if defined(BATCH_X86_AVX2)
    if (__builtin_cpu_supports("avx2")) {
        batch_bbands_avx2(x, n, p, up, down, bands, o0, o1, o2);
        return;
    }
#endif
    batch_bbands_sse2(x, n, p, up, down, bands, o0, o1, o2);
}

/* ---- CCI (k_cci_update): for each bar the mean of the window's typical prices, then the sum
 * of their absolute deviations from it, both summed serially in TA-Lib's storage order, which
 * is what makes CCI bit-exact (another order moves values by up to 5e-10). Those two serial
 * sums are long dependency chains but each bar's are independent of the others', so two bars
 * run side by side in the lanes of a register, each lane in its own bar's order.
 *
 * Storage order: bar b sits in slot b mod p, and the sums run over slots 0, 1, ..., p - 1. For
 * bar t write d = (slot - t) mod p; slot d holds bar t + d - p, except d = 0, which holds bar t.
 * For bar t + 1 the same holds except that slot d = 1 now holds bar t + 1. So at each step both
 * lanes take the same value except at d = 1: [tp(t + 1 - p), tp(t + 1)]. ---- */
#define CCI_CHUNK 512 /* bars of typical price computed ahead, on the stack for p <= 512 */

/* Bars t and t + 1, with b pointing at tp(t) and d0 = (-t) mod p; p >= 2. The steps run in
 * order d = d0, ..., p - 1, 0, ..., d0 - 1, split so that no step tests d. */
#define CCI_RUNS(d0, p, NSPEC, SPECIAL, BCAST)                                                    \
    do {                                                                                           \
        size_t d_;                                                                                 \
        for (d_ = (d0); d_ < (NSPEC) && d_ < (p); d_++)                                            \
            SPECIAL(d_);                                                                           \
        for (d_ = (d0) > (NSPEC) ? (d0) : (NSPEC); d_ < (p); d_++)                                 \
            BCAST(d_);                                                                             \
        for (d_ = 0; d_ < (d0) && d_ < (NSPEC); d_++)                                              \
            SPECIAL(d_);                                                                           \
        for (d_ = (NSPEC); d_ < (d0); d_++)                                                        \
            BCAST(d_);                                                                             \
    } while (0)

static inline void cci_pair(const double *b, size_t p, size_t d0, double pd, double *o)
{
    const ptrdiff_t pp = (ptrdiff_t)p;
    const __m128d pdv = _mm_set1_pd(pd), mask = _mm_castsi128_pd(_mm_set1_epi64x(INT64_MAX));
    /* d = 0: both lanes tp(t); d = 1: [tp(t + 1 - p), tp(t + 1)]. */
    const __m128d spec[2] = {_mm_set1_pd(b[0]), _mm_set_pd(b[1], b[1 - pp])};
    __m128d sum = _mm_setzero_pd(), dev = _mm_setzero_pd(), mean;
#define SUM_S(d) sum = _mm_add_pd(sum, spec[d])
#define SUM_B(d) sum = _mm_add_pd(sum, _mm_set1_pd(b[(ptrdiff_t)(d) - pp]))
#define DEV_S(d) dev = _mm_add_pd(dev, _mm_and_pd(_mm_sub_pd(spec[d], mean), mask))
#define DEV_B(d)                                                                                   \
    dev = _mm_add_pd(dev, _mm_and_pd(_mm_sub_pd(_mm_set1_pd(b[(ptrdiff_t)(d) - pp]), mean), mask))
    CCI_RUNS(d0, p, 2, SUM_S, SUM_B);
    mean = _mm_div_pd(sum, pdv);
    CCI_RUNS(d0, p, 2, DEV_S, DEV_B);
#undef SUM_S
#undef SUM_B
#undef DEV_S
#undef DEV_B
    __m128d num = _mm_sub_pd(_mm_loadu_pd(b), mean);
    __m128d r = _mm_div_pd(num, _mm_mul_pd(_mm_set1_pd(0.015), _mm_div_pd(dev, pdv)));
    __m128d ok = _mm_and_pd(_mm_cmpneq_pd(num, _mm_setzero_pd()),
                            _mm_cmpneq_pd(dev, _mm_setzero_pd()));
    _mm_storeu_pd(o, _mm_and_pd(r, ok));
}

/* One bar alone, scalar, the same operations. */
static inline double cci_one(const double *b, size_t p, size_t d0, double pd)
{
    double mean = 0.0, dev = 0.0;
    for (size_t k = 0, d = d0; k < p; k++, d = d + 1 == p ? 0 : d + 1)
        mean += d == 0 ? b[0] : b[(ptrdiff_t)d - (ptrdiff_t)p];
    mean /= pd;
    for (size_t k = 0, d = d0; k < p; k++, d = d + 1 == p ? 0 : d + 1)
        dev += fabs((d == 0 ? b[0] : b[(ptrdiff_t)d - (ptrdiff_t)p]) - mean);
    double num = b[0] - mean;
    return num != 0.0 && dev != 0.0 ? num / (0.015 * (dev / pd)) : 0.0;
}

#if defined(BATCH_X86_AVX2)
/* Bars t .. t + 7 in two 256-bit registers (lanes m = 0..3 and 4..7), p >= 8. Bar t + m takes
 * tp(t + d) at step d when m >= d, else tp(t + d - p): a plain broadcast for d >= 8 (and d = 0),
 * a blend of two broadcasts for d = 1..7. */
__attribute__((target("avx2"), always_inline)) static inline void
cci_oct(const double *b, size_t p, size_t d0, __m256d pdv, double *o)
{
    const ptrdiff_t pp = (ptrdiff_t)p;
    const __m256d mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX)),
                  zero = _mm256_setzero_pd();
#define BC(k) _mm256_broadcast_sd(&b[k])
    __m256d sa[8], sb[8];
    sa[0] = sb[0] = BC(0);
    sa[1] = _mm256_blend_pd(BC(1 - pp), BC(1), 0xe);
    sa[2] = _mm256_blend_pd(BC(2 - pp), BC(2), 0xc);
    sa[3] = _mm256_blend_pd(BC(3 - pp), BC(3), 0x8);
    sb[1] = BC(1);
    sb[2] = BC(2);
    sb[3] = BC(3);
    sb[4] = BC(4);
    sa[4] = BC(4 - pp);
    sa[5] = BC(5 - pp);
    sa[6] = BC(6 - pp);
    sa[7] = BC(7 - pp);
    sb[5] = _mm256_blend_pd(sa[5], BC(5), 0xe);
    sb[6] = _mm256_blend_pd(sa[6], BC(6), 0xc);
    sb[7] = _mm256_blend_pd(sa[7], BC(7), 0x8);
    __m256d suma = zero, sumb = zero, deva = zero, devb = zero, meana, meanb;
#define SUM_S(d) (suma = _mm256_add_pd(suma, sa[d]), sumb = _mm256_add_pd(sumb, sb[d]))
#define SUM_B(d)                                                                                   \
    do {                                                                                           \
        __m256d v_ = BC((ptrdiff_t)(d) - pp);                                                      \
        suma = _mm256_add_pd(suma, v_);                                                            \
        sumb = _mm256_add_pd(sumb, v_);                                                            \
    } while (0)
#define DEV_S(d)                                                                                   \
    (deva = _mm256_add_pd(deva, _mm256_and_pd(_mm256_sub_pd(sa[d], meana), mask)),                 \
     devb = _mm256_add_pd(devb, _mm256_and_pd(_mm256_sub_pd(sb[d], meanb), mask)))
#define DEV_B(d)                                                                                   \
    do {                                                                                           \
        __m256d v_ = BC((ptrdiff_t)(d) - pp);                                                      \
        deva = _mm256_add_pd(deva, _mm256_and_pd(_mm256_sub_pd(v_, meana), mask));                \
        devb = _mm256_add_pd(devb, _mm256_and_pd(_mm256_sub_pd(v_, meanb), mask));                \
    } while (0)
    CCI_RUNS(d0, p, 8, SUM_S, SUM_B);
    meana = _mm256_div_pd(suma, pdv);
    meanb = _mm256_div_pd(sumb, pdv);
    CCI_RUNS(d0, p, 8, DEV_S, DEV_B);
#undef SUM_S
#undef SUM_B
#undef DEV_S
#undef DEV_B
#undef BC
    const __m256d k015 = _mm256_set1_pd(0.015);
    __m256d numa = _mm256_sub_pd(_mm256_loadu_pd(b), meana);
    __m256d numb = _mm256_sub_pd(_mm256_loadu_pd(b + 4), meanb);
    __m256d ra = _mm256_div_pd(numa, _mm256_mul_pd(k015, _mm256_div_pd(deva, pdv)));
    __m256d rb = _mm256_div_pd(numb, _mm256_mul_pd(k015, _mm256_div_pd(devb, pdv)));
    __m256d oka = _mm256_and_pd(_mm256_cmp_pd(numa, zero, _CMP_NEQ_UQ),
                                _mm256_cmp_pd(deva, zero, _CMP_NEQ_UQ));
    __m256d okb = _mm256_and_pd(_mm256_cmp_pd(numb, zero, _CMP_NEQ_UQ),
                                _mm256_cmp_pd(devb, zero, _CMP_NEQ_UQ));
    _mm256_storeu_pd(o, _mm256_and_pd(ra, oka));
    _mm256_storeu_pd(o + 4, _mm256_and_pd(rb, okb));
}
#endif

/* Typical prices of bars t0 .. t0 + m - 1 into tp. */
static inline void cci_tp(const double *restrict h, const double *restrict l,
                          const double *restrict c, size_t t0, size_t m, double *restrict tp)
{
    for (size_t k = 0; k < m; k++)
        tp[k] = (h[t0 + k] + l[t0 + k] + c[t0 + k]) / 3.0;
}

/* The bars of one chunk, k from k0: pairs, then a last one alone. */
static inline void cci_rest(const double *tp, size_t lb, size_t k, size_t m, size_t p, size_t d0,
                            double pd, double *o)
{
    for (; k + 2 <= m; k += 2) {
        cci_pair(tp + lb + k, p, d0, pd, o + k);
        d0 = d0 >= 2 ? d0 - 2 : d0 + p - 2;
    }
    if (k < m)
        o[k] = cci_one(tp + lb + k, p, d0, pd);
}

#if defined(BATCH_X86_AVX2)
__attribute__((target("avx2"))) static void cci_chunks_avx2(const double *h, const double *l,
                                                            const double *c, size_t n, size_t p,
                                                            double *tp, double *o)
{
    const size_t lb = p - 1;
    const double pd = (double)p;
    const __m256d pdv = _mm256_set1_pd(pd);
    for (size_t t0 = lb; t0 < n;) {
        size_t m = batch_min(CCI_CHUNK, n - t0), k = 0, d0 = (p - t0 % p) % p;
        cci_tp(h, l, c, t0, m, tp + lb);
        for (; k + 8 <= m; k += 8) {
            cci_oct(tp + lb + k, p, d0, pdv, o + t0 + k);
            d0 = d0 >= 8 ? d0 - 8 : d0 + p - 8;
        }
        _mm256_zeroupper(); /* see BATCH_X86_AVX2 */
        cci_rest(tp, lb, k, m, p, d0, pd, o + t0);
        memmove(tp, tp + m, lb * sizeof *tp);
        t0 += m;
    }
}
#endif

static void cci_chunks_sse2(const double *h, const double *l, const double *c, size_t n, size_t p,
                            double *tp, double *o)
{
    const size_t lb = p - 1;
    for (size_t t0 = lb; t0 < n;) {
        size_t m = batch_min(CCI_CHUNK, n - t0);
        cci_tp(h, l, c, t0, m, tp + lb);
        cci_rest(tp, lb, 0, m, p, (p - t0 % p) % p, (double)p, o + t0);
        memmove(tp, tp + m, lb * sizeof *tp);
        t0 += m;
    }
}

static batch_result batch_cci(const double *restrict h, const double *restrict l,
                              const double *restrict c, size_t n, size_t p, double *restrict o)
{
    if (p < 2)
        return BATCH_NONE; /* every value is 0; the kernel does it */
    const size_t lb = p - 1;
    size_t warm = batch_min(lb, n);
    /* tp[k] is the typical price of bar t0 - lb + k: lb values of history, then a chunk. */
    double stack[CCI_CHUNK + CCI_CHUNK], *tp = stack;
    if (lb > CCI_CHUNK) {
        tp = malloc((lb + CCI_CHUNK) * sizeof *tp);
        if (!tp)
            return BATCH_NOMEM;
    }
    batch_nan(o, warm);
    cci_tp(h, l, c, 0, warm, tp);
#if defined(BATCH_X86_AVX2)
    if (p >= 8 && __builtin_cpu_supports("avx2"))
        cci_chunks_avx2(h, l, c, n, p, tp, o);
    else
#endif
        cci_chunks_sse2(h, l, c, n, p, tp, o);
    if (tp != stack)
        free(tp);
    return BATCH_DONE;
}
#endif /* __SSE2__ */

/* For the chain-bound indicators, check and compute in one go (see above): BATCH_DONE with out
 * written, BATCH_BAD (nothing written) if an input value is not finite, BATCH_NONE to check and
 * compute the usual way. The input arrays must be present. */
__attribute__((noinline)) static batch_result
batch_checked(cmee_ind_id id, const double *p, const cmee_series *in, double *const *out)
{
#if defined(__SSE2__)
    switch (id) {
    case CMEE_IND_SMA:
        return batch_sma_split(in->close, in->n, cmee__pint(p, 0), out[0]);
    case CMEE_IND_ATR:
    case CMEE_IND_NATR:
        return batch_atr_split(in->high, in->low, in->close, in->n, cmee__pint(p, 0),
                               id == CMEE_IND_NATR, out[0]);
    default:
        break;
    }
#else
    (void)id, (void)p, (void)in, (void)out;
#endif
    return BATCH_NONE;
}

/* Run the batch kernel for id if there is one, on inputs already checked: BATCH_DONE with out
 * written, BATCH_NONE to use the generic loop, BATCH_NOMEM (nothing written) if a large
 * window's buffer failed. Kept out of line, as batch_checked: inlined into cmee_ind_compute,
 * they used up the compiler's inlining budget for it, and the generic loop then called
 * osc_deque_push instead of inlining it (STOCHRSI 55 % slower, RSI and ADX 10-15 %). */
__attribute__((noinline)) static batch_result
batch_run(cmee_ind_id id, const double *p, const cmee_series *in, double *const *out)
{
    size_t n = in->n;
    switch (id) {
    case CMEE_IND_SMA:
        batch_sma(in->close, n, cmee__pint(p, 0), out[0]);
        return BATCH_DONE;
    case CMEE_IND_WMA:
        batch_wma(in->close, n, cmee__pint(p, 0), out[0]);
        return BATCH_DONE;
    case CMEE_IND_MOM:
        batch_mom(in->close, n, cmee__pint(p, 0), out[0]);
        return BATCH_DONE;
    case CMEE_IND_ROC:
        batch_roc(in->close, n, cmee__pint(p, 0), out[0]);
        return BATCH_DONE;
    case CMEE_IND_MACD:
        batch_macd(in->close, n, p, out[0], out[1], out[2]);
        return BATCH_DONE;
    case CMEE_IND_ATR:
    case CMEE_IND_NATR:
        batch_atr(in->high, in->low, in->close, n, cmee__pint(p, 0), id == CMEE_IND_NATR,
                  out[0]);
        return BATCH_DONE;
#if defined(__SSE2__)
    case CMEE_IND_BBANDS:
        batch_bbands(in->close, n, cmee__pint(p, 0), p[1], p[2], true, out[0], out[1], out[2]);
        return BATCH_DONE;
    case CMEE_IND_STDDEV:
        batch_bbands(in->close, n, cmee__pint(p, 0), 0.0, 0.0, false, out[0], NULL, NULL);
        return BATCH_DONE;
    case CMEE_IND_CCI:
        return batch_cci(in->high, in->low, in->close, n, cmee__pint(p, 0), out[0]);
#endif
    default:
        return BATCH_NONE;
    }
}

#endif
