/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Built-in scenarios. Each is a small table of regimes and events, built through
 * cmee_scenario_new() so it passes the same validation as any user scenario. */
#include <string.h>

#include "scenario_int.h"

#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS INT64_C(86400000)

/* One regime or event of a preset; `is_event` says which of the two unions is meant. */
typedef struct preset_item {
    bool is_event;
    cmee_regime r; /* fields on top of cmee_regime_init() */
    cmee_event e;  /* fields on top of cmee_event_init() */
} preset_item;

typedef struct preset {
    const char *name;
    const char *description;
    preset_item items[4];
    size_t nitems;
} preset;

#define REGIME(...)                                                                                \
    {                                                                                              \
        .is_event = false, .r = { __VA_ARGS__ }                                                    \
    }
#define EVENT(...)                                                                                 \
    {                                                                                              \
        .is_event = true, .e = { __VA_ARGS__ }                                                     \
    }

/* Every regime sets vol_mult; other unset fields are 0 (drift kept, no jumps, no reversion). */
static const preset presets[] = {
    {"calm",
     "A quiet week: half the usual volatility, the symbol's own drift.",
     {REGIME(.start = 0, .end = 7 * DAY_MS, .drift_mode = CMEE_DRIFT_KEEP, .vol_mult = 0.5)},
     1},
    {"bull_trend",
     "A steady rally: +25 % expected over 30 days at the usual volatility.",
     {REGIME(.start = 0, .end = 30 * DAY_MS, .drift_mode = CMEE_DRIFT_SPAN, .drift = 0.25,
             .vol_mult = 1)},
     1},
    {"bear_trend",
     "A steady decline: -20 % expected over 30 days at the usual volatility.",
     {REGIME(.start = 0, .end = 30 * DAY_MS, .drift_mode = CMEE_DRIFT_SPAN, .drift = -0.20,
             .vol_mult = 1)},
     1},
    {"crash",
     "A -10 % gap, then three turbulent days: -25 % expected, 2.5x volatility and frequent "
     "downward jumps.",
     {EVENT(.kind = CMEE_EVENT_SHOCK, .at = 0, .size = -0.10),
      REGIME(.start = 0, .end = 3 * DAY_MS, .drift_mode = CMEE_DRIFT_SPAN, .drift = -0.25,
             .vol_mult = 2.5, .jump_rate = 500, .jump_mean = -0.03, .jump_stdev = 0.02)},
     2},
    {"flash_crash_recovery",
     "A -10 % slide over 15 minutes with a volatility spike, then a recovery to the starting "
     "level by the third hour.",
     {EVENT(.kind = CMEE_EVENT_TARGET, .at = 0, .end = 15 * MIN_MS,
            .target = {CMEE_LEVEL_CHANGE, -0.10}),
      EVENT(.kind = CMEE_EVENT_TARGET, .at = 15 * MIN_MS, .end = 3 * HOUR_MS,
            .target = {CMEE_LEVEL_CHANGE, 0.111}),
      EVENT(.kind = CMEE_EVENT_SPIKE, .at = 0, .size = 3, .half_life = 30 * MIN_MS)},
     3},
    {"volatility_spike",
     "Volatility jumps to 4x and decays back with a two-hour half-life; no drift change.",
     {EVENT(.kind = CMEE_EVENT_SPIKE, .at = 0, .size = 4, .half_life = 2 * HOUR_MS)},
     1},
    {"sideways_range",
     "Two weeks of range trading: no expected change, 0.8x volatility, prices pulled back "
     "to the starting level with a six-hour half-life.",
     {REGIME(.start = 0, .end = 14 * DAY_MS, .drift_mode = CMEE_DRIFT_SPAN, .drift = 0,
             .vol_mult = 0.8, .revert_half_life = 6 * HOUR_MS,
             .revert_to = {CMEE_LEVEL_CHANGE, 0})},
     1},
    {"trading_halt",
     "Trading stops for 30 minutes: flat prices and no volume.",
     {EVENT(.kind = CMEE_EVENT_HALT, .at = 0, .end = 30 * MIN_MS)},
     1},
    {"recovery",
     "A two-week recovery: +15 % expected over 14 days at 1.2x volatility.",
     {REGIME(.start = 0, .end = 14 * DAY_MS, .drift_mode = CMEE_DRIFT_SPAN, .drift = 0.15,
             .vol_mult = 1.2)},
     1},
};
#define NPRESETS (sizeof presets / sizeof presets[0])

const char *cmee_scenario_preset_name(size_t i)
{
    return i < NPRESETS ? presets[i].name : NULL;
}

cmee_status cmee_scenario_preset(const char *name, const cmee_allocator *alloc, cmee_scenario **out,
                                 cmee_error *err)
{
    const char *field = !name ? "name" : !out ? "out" : NULL;
    if (field) {
        if (err) {
            err->status = CMEE_EINVAL;
            cmee__fmt(err->field, sizeof err->field, "%s", field);
            cmee__fmt(err->text, sizeof err->text, "%s: is NULL", field);
        }
        return CMEE_EINVAL;
    }
    const preset *p = NULL;
    for (size_t i = 0; i < NPRESETS && !p; i++)
        if (strcmp(presets[i].name, name) == 0)
            p = &presets[i];
    if (!p) {
        if (err) {
            err->status = CMEE_ENOTFOUND;
            cmee__fmt(err->field, sizeof err->field, "name");
            cmee__fmt(err->text, sizeof err->text, "name: no preset called \"%.40s\"", name);
        }
        return CMEE_ENOTFOUND;
    }
    cmee_regime regimes[4];
    cmee_event events[4];
    size_t nr = 0, ne = 0;
    for (size_t i = 0; i < p->nitems; i++) {
        const preset_item *it = &p->items[i];
        if (it->is_event) {
            cmee_event *e = &events[ne++];
            cmee_event_init(e, it->e.kind);
            e->at = it->e.at;
            e->end = it->e.end;
            e->size = it->e.size;
            if (it->e.half_life)
                e->half_life = it->e.half_life;
            e->target = it->e.target;
        } else {
            regimes[nr++] = it->r;
        }
    }
    cmee_scenario_spec spec = {
        .name = p->name,
        .description = p->description,
        .regimes = regimes,
        .nregimes = nr,
        .events = events,
        .nevents = ne,
    };
    return cmee_scenario_new(&spec, NULL, alloc, out, err);
}
