/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON forms of signal results (see signals_json.h). */
#include "signals_json.h"

#include <math.h>

json_t *signals_json_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

bool signals_json_put(json_t *o, const char *key, json_t *v)
{
    if (!o || !v) {
        json_decref(v);
        return false;
    }
    return json_object_set_new(o, key, v) == 0;
}

static json_t *num_array(const double *v, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, signals_json_number(v[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* signals_json_put(), or on failure go to the caller's fail label. */
#define PUT(o, key, v)                                                                             \
    do {                                                                                           \
        if (!signals_json_put((o), (key), (v)))                                                    \
            goto fail;                                                                             \
    } while (0)

#define NUM signals_json_number

static const char *trend_name(int trend)
{
    return trend > 0 ? "up" : trend < 0 ? "down" : "sideways";
}

/* The fields of each group go into @p o, so that the flat and the grouped forms share them and
 * keep one order. Each returns false after an allocation failure. */
static bool put_trend(json_t *o, const cmee_analysis *a, const char *dir_key,
                      const char *strength_key)
{
    PUT(o, dir_key, json_string(trend_name(a->trend)));
    PUT(o, strength_key, NUM(a->trend_strength));
    PUT(o, "adx", NUM(a->adx));
    PUT(o, "plus_di", NUM(a->plus_di));
    PUT(o, "minus_di", NUM(a->minus_di));
    PUT(o, "slope_pct", NUM(a->slope_pct));
    PUT(o, "r2", NUM(a->r2));
    return true;
fail:
    return false;
}

static bool put_volatility(json_t *o, const cmee_analysis *a)
{
    PUT(o, "atr", NUM(a->atr));
    PUT(o, "atr_pct", NUM(a->atr_pct));
    PUT(o, "realized_vol", NUM(a->realized_vol));
    PUT(o, "vol_percentile", NUM(a->vol_percentile));
    return true;
fail:
    return false;
}

static bool put_levels(json_t *o, const cmee_analysis *a)
{
    PUT(o, "pivots",
        json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "pivot", NUM(a->pivot), "r1", NUM(a->r1),
                  "r2", NUM(a->r2_level), "r3", NUM(a->r3), "s1", NUM(a->s1), "s2", NUM(a->s2),
                  "s3", NUM(a->s3)));
    PUT(o, "fibonacci",
        json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "r1", NUM(a->fib_r1), "r2", NUM(a->fib_r2),
                  "r3", NUM(a->fib_r3), "s1", NUM(a->fib_s1), "s2", NUM(a->fib_s2), "s3",
                  NUM(a->fib_s3)));
    PUT(o, "support", NUM(a->support));
    PUT(o, "resistance", NUM(a->resistance));
    PUT(o, "swing_highs", num_array(a->swing_highs, a->nswing_highs));
    PUT(o, "swing_lows", num_array(a->swing_lows, a->nswing_lows));
    return true;
fail:
    return false;
}

/* A new object filled by @p fill, or NULL. */
static json_t *checked(json_t *o, bool filled)
{
    if (!filled) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *signals_json_analysis(const cmee_analysis *a)
{
    json_t *o = json_object();

    return checked(o, o && put_trend(o, a, "trend", "trend_strength") && put_volatility(o, a) &&
                          put_levels(o, a));
}

json_t *signals_json_trend(const cmee_analysis *a)
{
    json_t *o = json_object();

    return checked(o, o && put_trend(o, a, "direction", "strength"));
}

json_t *signals_json_volatility(const cmee_analysis *a)
{
    json_t *o = json_object();

    return checked(o, o && put_volatility(o, a));
}

json_t *signals_json_levels(const cmee_analysis *a)
{
    json_t *o = json_object();

    return checked(o, o && put_levels(o, a));
}

json_t *signals_json_signal(const cmee_signal *s, const char *direction_key)
{
    json_t *o = json_object(), *reasons;
    const char *dir = cmee_direction_name(s->direction);

    PUT(o, direction_key, json_string(dir ? dir : "NEUTRAL"));
    PUT(o, "score", NUM(s->score));
    PUT(o, "strength", NUM(s->strength));
    reasons = json_array();
    for (size_t k = 0; reasons && k < s->nreasons; k++) {
        const cmee_signal_reason *r = &s->reasons[k];
        const char *rule = cmee_rule_name(r->rule);
        json_t *item = json_pack("{s:s, s:o, s:o, s:s}", "rule", rule ? rule : "?", "vote",
                                 NUM(r->vote), "weight", NUM(r->weight), "text", r->text);
        if (!item || json_array_append_new(reasons, item) != 0) {
            json_decref(reasons);
            reasons = NULL;
        }
    }
    PUT(o, "reasons", reasons);
    return o;
fail:
    json_decref(o);
    return NULL;
}

json_t *signals_json_binary(const cmee_binary_signal *b)
{
    const char *dir = cmee_binary_dir_name(b->direction);

    return json_pack("{s:s, s:o, s:I, s:I}", "direction", dir ? dir : "NONE", "confidence",
                     NUM(b->confidence), "expiry_ms", (json_int_t)b->expiry_ms, "expiry_time",
                     (json_int_t)b->expiry_time);
}

json_t *signals_json_indicators(const cmee_series *s, double *scratch, cmee_status *st,
                                cmee_error *err)
{
    size_t n = s->n;
    json_t *all = json_object();

    for (int id = 0; all && id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        double *out[CMEE_IND_MAX_OUTPUTS] = {scratch, scratch + n, scratch + 2 * n};
        cmee_status rc;
        json_t *o;

        if (!info)
            continue;
        if ((rc = cmee_ind_compute(info->id, NULL, s, out, err)) != CMEE_OK) {
            json_decref(all);
            *st = rc;
            return NULL;
        }
        o = json_object();
        for (size_t k = 0; o && k < info->noutputs; k++)
            if (!signals_json_put(o, info->output_names[k], NUM(out[k][n - 1]))) {
                json_decref(o);
                o = NULL;
            }
        if (!signals_json_put(all, info->name, o)) {
            json_decref(all);
            all = NULL;
        }
    }
    if (!all)
        *st = CMEE_ENOMEM;
    return all;
}
