/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Streaming: the same inline kernels as the batch loop, one bar per call. */
#include <string.h>

#include "kernels.h"

struct cmee_ind_stream;
typedef cmee_status (*step_fn)(struct cmee_ind_stream *s, const cmee_candle *bar, double *out);

struct cmee_ind_stream {
    cmee__alloc al;
    step_fn step;
    cmee_ind_id id;
    size_t nout;
    unsigned mask;
    double p[CMEE_IND_MAX_PARAMS];
    double *scratch;
    union {
#define K(ID, pfx, mask, nout) pfx##_state pfx;
        CMEE__KERNELS(K)
#undef K
    } u;
};

/* The fields an indicator reads must be finite: one integer test over their exponents (all
 * ones means NaN or infinity). With a constant mask it compiles to a few instructions. */
static inline bool fields_finite(const cmee_candle *bar, unsigned mask)
{
    const uint64_t exp = UINT64_C(0x7ff0000000000000), one = UINT64_C(1) << 52;
    const double vals[5] = {bar->open, bar->high, bar->low, bar->close, bar->volume};
    uint64_t bad = 0;
    for (unsigned k = 0; k < 5; k++) {
        if (!(mask & (1u << k)))
            continue;
        uint64_t u;
        memcpy(&u, &vals[k], sizeof u);
        bad |= (u & exp) + one;
    }
    return (bad >> 63) == 0;
}

/* One step function per indicator, so an update is one indirect call into code specialised for
 * that indicator's fields and outputs, with no dispatch and no copy of the outputs. */
#define K(ID, pfx, mask, nout)                                                                     \
    static cmee_status step_##pfx(cmee_ind_stream *s, const cmee_candle *bar, double *out)      \
    {                                                                                              \
        if (!fields_finite(bar, (mask)))                                                           \
            return CMEE_EINVAL;                                                                    \
        cmee__bar b = {bar->open, bar->high, bar->low, bar->close, bar->volume};                   \
        k_##pfx##_update(&s->u.pfx, &b, out);                                                      \
        return CMEE_OK;                                                                            \
    }
CMEE__KERNELS(K)
#undef K

static step_fn step_of(cmee_ind_id id)
{
    switch (id) {
#define K(ID, pfx, mask, nout)                                                                     \
    case CMEE_IND_##ID:                                                                            \
        return step_##pfx;
        CMEE__KERNELS(K)
#undef K
    case CMEE_IND_COUNT:
        break;
    }
    return NULL;
}

static void init_state(cmee_ind_stream *s)
{
    switch (s->id) {
#define K(ID, pfx, mask, nout)                                                                     \
    case CMEE_IND_##ID:                                                                            \
        k_##pfx##_init(&s->u.pfx, s->p, s->scratch);                                               \
        break;
        CMEE__KERNELS(K)
#undef K
    case CMEE_IND_COUNT:
        break;
    }
}

cmee_status cmee_ind_stream_new(cmee_ind_id id, const double *params, const cmee_allocator *alloc,
                                cmee_ind_stream **out, cmee_error *err)
{
    double p[CMEE_IND_MAX_PARAMS];
    cmee_status st = cmee__ind_params(id, params, p, err);
    if (st != CMEE_OK)
        return st;
    if (!out)
        return cmee__ind_fail(err, CMEE_EINVAL, "out", "out: must not be NULL");
    cmee__alloc al;
    if (cmee__alloc_init(&al, alloc) != CMEE_OK)
        return cmee__ind_fail(err, CMEE_EINVAL, "alloc", "alloc: a function is missing");
    size_t need = 0;
    switch (id) {
#define K(ID, pfx, mask, nout)                                                                     \
    case CMEE_IND_##ID:                                                                            \
        need = k_##pfx##_scratch(p);                                                               \
        break;
        CMEE__KERNELS(K)
#undef K
    case CMEE_IND_COUNT:
        break;
    }
    cmee_ind_stream *s = cmee__calloc(&al, 1, sizeof *s);
    if (!s)
        return cmee__ind_fail(err, CMEE_ENOMEM, "out", "out of memory");
    s->scratch = need ? cmee__calloc(&al, need, sizeof(double)) : NULL;
    if (need && !s->scratch) {
        cmee__free(&al, s);
        return cmee__ind_fail(err, CMEE_ENOMEM, "period", "out of memory for a window of %zu",
                              need);
    }
    const cmee_ind_info *info = cmee_ind_info_get(id);
    s->al = al;
    s->step = step_of(id);
    s->id = id;
    s->nout = info->noutputs;
    s->mask = info->inputs;
    for (size_t k = 0; k < CMEE_IND_MAX_PARAMS; k++)
        s->p[k] = p[k];
    init_state(s);
    *out = s;
    return CMEE_OK;
}

cmee_status cmee_ind_stream_update(cmee_ind_stream *s, const cmee_candle *bar, double *out)
{
    if (!s || !bar || !out)
        return CMEE_EINVAL;
    return s->step(s, bar, out);
}

void cmee_ind_stream_reset(cmee_ind_stream *s)
{
    if (s)
        init_state(s);
}

cmee_ind_id cmee_ind_stream_id(const cmee_ind_stream *s)
{
    return s->id;
}

void cmee_ind_stream_free(cmee_ind_stream *s)
{
    if (!s)
        return;
    cmee__alloc al = s->al;
    cmee__free(&al, s->scratch);
    cmee__free(&al, s);
}
