/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Streaming: the same inline kernels as the batch loop, one bar per call. */
#include "kernels.h"

struct cmee_ind_stream {
    cmee__alloc al;
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
    cmee__bar b = {bar->open, bar->high, bar->low, bar->close, bar->volume};
    const double vals[5] = {b.o, b.h, b.l, b.c, b.v};
    for (unsigned k = 0; k < 5; k++)
        if ((s->mask & (1u << k)) && !isfinite(vals[k]))
            return CMEE_EINVAL;
    double o[CMEE_IND_MAX_OUTPUTS];
    switch (s->id) {
#define K(ID, pfx, mask, nout)                                                                     \
    case CMEE_IND_##ID:                                                                            \
        k_##pfx##_update(&s->u.pfx, &b, o);                                                        \
        break;
        CMEE__KERNELS(K)
#undef K
    case CMEE_IND_COUNT:
        break;
    }
    for (size_t k = 0; k < s->nout; k++)
        out[k] = o[k];
    return CMEE_OK;
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
