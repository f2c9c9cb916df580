/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Batch computation: validate, then run the indicator's inline kernel over the series. */
#include <stdlib.h>
#include <string.h>

#include "batch.h"

/* Window storage up to this many doubles lives on the stack: no allocation per call. */
#define STACK_SCRATCH 512

static const char *field_name(unsigned bit)
{
    switch (bit) {
    case CMEE_IN_OPEN:
        return "open";
    case CMEE_IN_HIGH:
        return "high";
    case CMEE_IN_LOW:
        return "low";
    case CMEE_IN_CLOSE:
        return "close";
    default:
        return "volume";
    }
}

static const double *field(const cmee_series *in, unsigned bit)
{
    switch (bit) {
    case CMEE_IN_OPEN:
        return in->open;
    case CMEE_IN_HIGH:
        return in->high;
    case CMEE_IN_LOW:
        return in->low;
    case CMEE_IN_CLOSE:
        return in->close;
    default:
        return in->volume;
    }
}

/* A double is NaN or infinite exactly when its exponent bits are all ones; adding one to the
 * exponent field then carries into the top bit. Integer OR-reduction, so it vectorises (a
 * floating-point sum would be one long dependency chain); eight accumulators, because with one
 * the loop ran at half the speed the caches deliver. */
static bool all_finite(const double *x, size_t n)
{
    const uint64_t exp = UINT64_C(0x7ff0000000000000), one = UINT64_C(1) << 52;
    uint64_t bad[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u[8];
        memcpy(u, &x[i], sizeof u);
        for (int k = 0; k < 8; k++)
            bad[k] |= (u[k] & exp) + one;
    }
    for (; i < n; i++) {
        uint64_t u;
        memcpy(&u, &x[i], sizeof u);
        bad[0] |= (u & exp) + one;
    }
    uint64_t all = 0;
    for (int k = 0; k < 8; k++)
        all |= bad[k];
    return (all >> 63) == 0;
}

/* Every field the indicator reads is present (for a non-empty series). */
static bool fields_present(const cmee_ind_info *info, const cmee_series *in)
{
    for (unsigned bit = 1; bit <= CMEE_IN_VOLUME; bit <<= 1)
        if ((info->inputs & bit) && !field(in, bit) && in->n > 0)
            return false;
    return true;
}

/* Every field the indicator reads is present and finite. */
static cmee_status check_series(const cmee_ind_info *info, const cmee_series *in, cmee_error *err)
{
    for (unsigned bit = 1; bit <= CMEE_IN_VOLUME; bit <<= 1) {
        if (!(info->inputs & bit))
            continue;
        const double *x = field(in, bit);
        if (!x && in->n > 0)
            return cmee__ind_fail(err, CMEE_EINVAL, field_name(bit), "%s: %s reads it, got NULL",
                                  field_name(bit), info->name);
        if (all_finite(x, in->n))
            continue;
        for (size_t i = 0; i < in->n; i++) {
            if (!isfinite(x[i])) {
                char f[32];
                cmee__fmt(f, sizeof f, "%s[%zu]", field_name(bit), i);
                return cmee__ind_fail(err, CMEE_EINVAL, f, "%s: must be finite, got %g", f, x[i]);
            }
        }
    }
    return CMEE_OK;
}

/* Whether [a, a + n) and [b, b + n) share a byte (as addresses: the arrays are unrelated). */
static bool overlap(const double *a, const double *b, size_t n)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b, len = n * sizeof(double);
    return x < y + len && y < x + len;
}

/* No output array overlaps an input the indicator reads or another output. */
static bool disjoint(const cmee_ind_info *info, const cmee_series *in, double *const *out)
{
    for (size_t k = 0; k < info->noutputs; k++) {
        for (unsigned bit = 1; bit <= CMEE_IN_VOLUME; bit <<= 1)
            if ((info->inputs & bit) && overlap(out[k], field(in, bit), in->n))
                return false;
        for (size_t j = 0; j < k; j++)
            if (overlap(out[k], out[j], in->n))
                return false;
    }
    return true;
}

static inline void load(cmee__bar *b, const cmee_series *in, size_t i, unsigned mask)
{
    if (mask & CMEE_IN_OPEN)
        b->o = in->open[i];
    if (mask & CMEE_IN_HIGH)
        b->h = in->high[i];
    if (mask & CMEE_IN_LOW)
        b->l = in->low[i];
    if (mask & CMEE_IN_CLOSE)
        b->c = in->close[i];
    if (mask & CMEE_IN_VOLUME)
        b->v = in->volume[i];
}

/* The generic loop: the indicator's kernel over the series, one bar at a time. One function per
 * indicator, kept out of line: as cases of one big switch they were compiled together, and
 * how well each loop was compiled depended on the others (STOCHRSI's got 55 % slower when
 * batch.h joined this file). The array pointers are copied to locals first, so the compiler
 * need not reload them after every store to an output. */
#define K(ID, pfx, mask, nout)                                                                     \
    __attribute__((noinline)) static void generic_##pfx(const double *p, const cmee_series *in,  \
                                                        double *const *out, double *scr)          \
    {                                                                                              \
        const cmee_series x = *in;                                                                 \
        double *o0 = out[0], *o1 = (nout) > 1 ? out[1] : NULL, *o2 = (nout) > 2 ? out[2] : NULL;   \
        pfx##_state s;                                                                             \
        k_##pfx##_init(&s, p, scr);                                                                \
        for (size_t i = 0; i < x.n; i++) {                                                         \
            cmee__bar b = {0, 0, 0, 0, 0};                                                         \
            double o[CMEE_IND_MAX_OUTPUTS];                                                        \
            load(&b, &x, i, (mask));                                                               \
            k_##pfx##_update(&s, &b, o);                                                           \
            o0[i] = o[0];                                                                          \
            if ((nout) > 1)                                                                        \
                o1[i] = o[1];                                                                      \
            if ((nout) > 2)                                                                        \
                o2[i] = o[2];                                                                      \
        }                                                                                          \
    }
CMEE__KERNELS(K)
#undef K

static size_t scratch_size(cmee_ind_id id, const double *p)
{
    switch (id) {
#define K(ID, pfx, mask, nout)                                                                     \
    case CMEE_IND_##ID:                                                                            \
        return k_##pfx##_scratch(p);
        CMEE__KERNELS(K)
#undef K
    case CMEE_IND_COUNT:
        break;
    }
    return 0;
}

cmee_status cmee_ind_compute(cmee_ind_id id, const double *params, const cmee_series *in,
                             double *const *out, cmee_error *err)
{
    double p[CMEE_IND_MAX_PARAMS];
    cmee_status st = cmee__ind_params(id, params, p, err);
    if (st != CMEE_OK)
        return st;
    const cmee_ind_info *info = cmee_ind_info_get(id);
    if (!in)
        return cmee__ind_fail(err, CMEE_EINVAL, "in", "in: must not be NULL");
    if (!out)
        return cmee__ind_fail(err, CMEE_EINVAL, "out", "out: must not be NULL");
    for (size_t k = 0; k < info->noutputs; k++)
        if (!out[k] && in->n > 0)
            return cmee__ind_fail(err, CMEE_EINVAL, "out", "out[%zu]: must not be NULL", k);
    /* The batch kernels re-read inputs after writing outputs: only when nothing overlaps. */
    bool fast = disjoint(info, in, out);
    if (fast && fields_present(info, in) && batch_checked(id, p, in, out) == BATCH_DONE)
        return CMEE_OK; /* else nothing was written: check (naming any bad value) and go on */
    st = check_series(info, in, err);
    if (st != CMEE_OK)
        return st;

    if (fast) {
        batch_result r = batch_run(id, p, in, out);
        if (r == BATCH_DONE)
            return CMEE_OK;
        if (r == BATCH_NOMEM)
            return cmee__ind_fail(err, CMEE_ENOMEM, "period",
                                  "out of memory for a window of %zu", (size_t)p[0]);
    }

    size_t need = scratch_size(id, p);
    double stack[STACK_SCRATCH];
    double *scr = stack;
    if (need > STACK_SCRATCH) {
        scr = malloc(need * sizeof *scr);
        if (!scr)
            return cmee__ind_fail(err, CMEE_ENOMEM, "period", "out of memory for a window of %zu",
                                  need);
    }
    switch (id) {
#define K(ID, pfx, mask, nout)                                                                     \
    case CMEE_IND_##ID:                                                                            \
        generic_##pfx(p, in, out, scr);                                                            \
        break;
        CMEE__KERNELS(K)
#undef K
    case CMEE_IND_COUNT:
        break;
    }
    if (scr != stack)
        free(scr);
    return CMEE_OK;
}
