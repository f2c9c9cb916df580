/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internal layout of cmee_scenario, shared by scenario.c (creation, JSON, presets) and
 * apply.c (applying a scenario to a market). */
#ifndef CMEE_SCENARIO_INT_H
#define CMEE_SCENARIO_INT_H

#include <math.h>

#include "internal.h"

struct cmee_scenario {
    cmee__alloc al;
    char name[CMEE_SCENARIO_NAME_MAX];
    char *description;                    /* NUL-terminated, never NULL ("" if none) */
    char (*symbols)[CMEE_SYMBOL_MAX];     /* nsymbols names; none means every symbol */
    size_t nsymbols;
    cmee_regime *regimes;                 /* sorted by start; pairwise disjoint */
    size_t nregimes;
    cmee_event *events;                   /* sorted by at (stable) */
    size_t nevents;
    int64_t duration;                     /* cmee_scenario_duration() */
};

/* How long a volatility spike acts, in ms: until its excess (size - 1) 2^(-t / half_life)
 * falls below 0.01. 0 if the excess starts below that. */
static inline int64_t cmee__spike_span(double size, int64_t half_life)
{
    double excess = size - 1.0;
    if (!(excess > 0.01))
        return 0;
    return (int64_t)ceil((double)half_life * log2(excess / 0.01));
}

#endif
