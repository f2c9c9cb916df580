/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internal layout of cmee_market and the generator engine's entry points. */
#ifndef CMEE_MARKET_INT_H
#define CMEE_MARKET_INT_H

#include <math.h>
#include <pthread.h>
#include <stdbool.h>

#include "internal.h"
#include <cmee/book.h>
#include "market/rng.h"

#define CMEE__DAYS_LOG2 16                     /* the day tree has 2^16 leaves */
#define CMEE__DAYS (1L << CMEE__DAYS_LOG2)     /* days in a series */
#define CMEE__MIN_MS INT64_C(60000)
#define CMEE__HOUR_MS INT64_C(3600000)
#define CMEE__DAY_MS INT64_C(86400000)
#define CMEE__YEAR_DAYS 365.25
#define CMEE__CASCADE_TOP_LEVEL 10             /* tree nodes of 64 days and less get weights */
#define CMEE__GROUP_MAX 32                     /* symbols in one correlation group */

/* One application of a scenario to one symbol: the part of the symbol's path it rewrites.
 * Boundaries are global minutes since CMEE_TIME_MIN. The segment's own recursion gives the log
 * price at boundaries (s, e]; at s it starts from x_start (the value the path had there), and
 * after e, until the next segment, the path is the base path plus off. */
typedef struct cmee__seg {
    uint32_t app;   /* index into cmee_market.apps */
    int64_t s, e;   /* first and end minute, s < e */
    double x_start; /* log price at s */
    double x_end;   /* log price at e */
    double off;     /* x_end minus the base log price at e */
} cmee__seg;

/* One fill of a session's own order in a market with price impact (lib/market/impact.c): from
 * the first tick after t the log price moves by a, decaying with the symbol's half-life. */
typedef struct cmee__kick {
    int64_t t;      /* fill time, ms */
    uint64_t ord;   /* tie-break among fills at one time: the order id */
    double a;       /* impact on the log price at t */
    double sum;     /* the total just after it: sum of a_i 2^(-(t - t_i) / h) over kicks <= it */
} cmee__kick;

/* A symbol's kicks (allocated at the first reservation), sorted by (t, ord). */
typedef struct cmee__impact {
    int64_t half;         /* the impact's half-life, ms (set with the first kick) */
    size_t n, cap;
    cmee__kick v[];
} cmee__impact;

/* A symbol with everything derived from its spec that the engine needs on every call. */
typedef struct cmee__symbol {
    cmee_symbol_spec spec;
    uint32_t key[2];      /* stream key: (seed, name) */
    int64_t tick_units;   /* tick_size in units of 10^-precision */
    double pow10;         /* 10^precision */
    double inv_tick;      /* 1 / tick_size, for rounding */
    double kmax;          /* largest price in ticks (keeps k * tick_units exact) */
    double log_p0;        /* log(seed_price) */
    double mu_adj;        /* drift minus jump compensator, per year */
    double var_year;      /* volatility^2 */
    double sd_min;        /* typical 1m log-return size (volume normalisation) */
    double lambda_bin;    /* cascade intensity of one binary split */
    double lambda_day;    /* cascade intensity of the day -> 24 hours split */
    double lambda_hour;   /* cascade intensity of the hour -> 60 minutes split */
    int group;            /* correlation group, -1 if none */
    int member;           /* position in the group */
    /* Values of the unpinned process at the anchor; subtracted so the series passes through
     * seed_price at CMEE_ANCHOR_TIME. */
    double pin_w, pin_v, pin_js;
    double e_min;         /* expected base log increment per minute (drift, Ito term, jumps) */
    cmee_spread_spec spread; /* microstructure settings (lib/market/book.c) */
    int qlog2;            /* size quantum is 2^-qlog2 */
    cmee__seg *segs;      /* scenario segments, sorted by s, disjoint */
    size_t nsegs, capsegs;
} cmee__symbol;

typedef struct cmee__group {
    int n;
    int sym[CMEE__GROUP_MAX];                    /* indices into cmee_market.syms */
    double chol[CMEE__GROUP_MAX * CMEE__GROUP_MAX]; /* lower Cholesky factor, row-major */
} cmee__group;

struct cmee_market {
    cmee__alloc al;
    uint64_t seed;
    cmee__symbol *syms;
    size_t nsyms, capsyms;
    cmee__group *groups;
    size_t ngroups;
    struct cmee__app *apps; /* scenario applications, in the order made */
    size_t napps, capapps;
    uint32_t next_app_id;
    uint64_t version;       /* bumped by every change to the market; readers compare it */
    /* Price impact of a session's own fills, per symbol index (lib/market/impact.c): NULL in
     * most markets, and for the symbols without kicks. */
    struct cmee__impact **imp;
    size_t nimp;
    pthread_mutex_t errlock;
    char errmsg[CMEE__ERRMSG_MAX];
};

/* Record a failure on the market (thread-safe) and return @p st. */
cmee_status cmee__market_fail(const cmee_market *m, cmee_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Built-in registry. */
size_t cmee__builtin_count(void);
void cmee__builtin_spec(size_t i, cmee_symbol_spec *out);

/* Derive the engine fields of @p s from its spec (the spec must be valid), not the pins. */
void cmee__symbol_derive(cmee__symbol *s, uint64_t seed);
/* Recompute the anchor pins of symbol @p idx (needs its group membership settled). */
void cmee__symbol_pin(const cmee_market *m, size_t idx);

/* One generated hour, in log-price space. The extremes are left as uniforms until asked for:
 * an aggregated candle needs the log and square root of only the few minutes that can beat
 * its running high or low (cmee__hour_high_beats()). */
typedef struct cmee__hour {
    double x[61];         /* log price at each minute boundary; x[60] is the next hour's x[0] */
    double mass[60];      /* variance of each minute's Brownian part */
    double hi[60], lo[60];/* extremes, valid where known[k] (always for minutes with jumps) */
    bool known[60];
    bool anti[60];        /* the low's uniform is the antithetic of the high's */
    uint32_t cv[60];      /* per-minute random word: coin, volume, top bits of the uniforms */
    uint64_t halted;      /* bit k: minute k is halted by a scenario (no volume) */
    int64_t vol[60];      /* volume of each minute, whole units */
    bool vscaled;         /* a scenario scales volumes: vmult[k] holds minute k's factor */
    double vmult[60];
    /* The uniforms of the extremes: their top 8 bits come with the hour, the low 24 bits are
     * drawn lazily, one Philox block per pair of minutes. */
    uint8_t ch[60], cl[60];
    double uh[60], ul[60];
    uint32_t drawn;       /* bit j: uniforms of minutes 2j and 2j+1 are in uh/ul */
    uint32_t key[2];
    uint32_t index;       /* global hour */
} cmee__hour;

/* Compute the high and low of minute k (idempotent). */
void cmee__hour_extremes(cmee__hour *h, int k);

/* Fold minutes [k0, k1) into a candle: highs into *max, lows into *min, volumes into *vol
 * (*max and *min start at the candle's open). Skips the logarithm of every minute that provably
 * cannot reach beyond the running high and low: gives exactly the values of a full computation. */
void cmee__hour_fold_span(cmee__hour *h, int k0, int k1, double *max, double *min, int64_t *vol);

/* Generate global hour @p hour (hours since CMEE_TIME_MIN) of symbol @p idx.
 * Hours of one day share work: pass a day cache that is reused while the day is the same. */
typedef struct cmee__daycache {
    int64_t day;          /* -1 when empty */
    double x[25];         /* log price at each hour boundary */
    double mass[24];
    int64_t jn[24];
    double js[24];
} cmee__daycache;

/* Where a query stands in a symbol's scenario segments: the state at the start of an hour.
 * Initialise with hour = -1; cmee__scen_hour() seeks as needed. */
typedef struct cmee__scur {
    int64_t hour;   /* the hour whose start this describes, -1 if none */
    double x;       /* log price at the start of the hour */
    int seg;        /* segment whose recursion is acting there, -1 if none */
    int piece;      /* regime whose reversion level is set, -1 */
    double level;   /* that level (log price) */
    int target;     /* target event whose drift is set, -1 */
    double tdrift;  /* that drift per minute */
} cmee__scur;

/* The full hour: base path, then the scenario segments (if any, with a cursor), then volumes. */
void cmee__engine_hour(const cmee_market *m, size_t idx, int64_t hour, cmee__daycache *dc,
                       cmee__scur *cur, cmee__hour *out);
/* The base path of an hour without volumes (x, mass, jump minutes' extremes, random words). */
void cmee__engine_hour_base(const cmee_market *m, size_t idx, int64_t hour, cmee__daycache *dc,
                            cmee__hour *out);
void cmee__engine_hour_volume(const cmee_market *m, size_t idx, cmee__hour *out);
/* Make sure @p dc holds day @p day. */
void cmee__engine_day(const cmee_market *m, size_t idx, int64_t day, cmee__daycache *dc);
/* Draw the uniforms of the extremes of minute k; clamp a minute's extremes and mark it known. */
void cmee__hour_uniforms(cmee__hour *h, int k);
void cmee__hour_clamp(cmee__hour *h, int k);

/* Rewrite a base hour (no volumes yet) by the symbol's scenario segments (lib/scenario/apply.c). */
void cmee__scen_hour(const cmee_market *m, size_t idx, int64_t hour, cmee__daycache *dc,
                     cmee__scur *cur, cmee__hour *h);
/* Recompute the cached values of a symbol's segments after its base path changed. */
void cmee__scen_refresh(const cmee_market *m, size_t idx);
/* Free what the scenario applications own. */
void cmee__scen_free_all(cmee_market *m);

/* Upper (sign +1) or lower (sign -1) extreme of a Brownian bridge from a to b with variance
 * mass, given a uniform u: the exact inverse of P(max > h) = exp(-2 (h-a)(h-b) / mass). */
static inline double cmee__bridge_extreme(double a, double b, double mass, double u, double sign)
{
    double d = b - a;
    return 0.5 * (a + b + sign * sqrt(d * d - 2.0 * mass * log(u)));
}

/* Log price -> price on the tick grid. Monotone non-decreasing in x. */
double cmee__price(const cmee__symbol *s, double x);

/* The ticks of minute k of hour @p h (its extremes computed for k), global minute @p minute,
 * with the price impact @p imp (NULL for none: cmee__impact_of()); without @p volumes their
 * volumes are left 0 (cheaper; prices and times are the same). */
void cmee__hour_ticks(const cmee__symbol *s, const struct cmee__impact *imp, const cmee__hour *h,
                      int k, int64_t minute, bool volumes, cmee_tick *out);

/* ---- price impact (lib/market/impact.c) ---- */

/* A fill's impact is dropped this many half-lives after the last fill before a tick. */
#define CMEE__IMPACT_HORIZON 40
/* The total impact applied to a price is clamped to [-CAP, CAP] in log price. */
#define CMEE__IMPACT_CAP 1.0

/* Room for @p n more kicks of symbol @p idx. */
cmee_status cmee__impact_reserve(cmee_market *m, size_t idx, size_t n);
/* Add a kick (room reserved): kept sorted by (t, ord); sums recomputed from it on. Bumps the
 * market's version. Prices at times <= t do not change. */
void cmee__impact_push(cmee_market *m, size_t idx, int64_t t, uint64_t ord, double a,
                       int64_t half_life);
/* The log impact applied to a tick at time @p t (0 without kicks before it). */
double cmee__impact_at(const cmee__impact *im, int64_t t);
/* The first global minute >= @p minute some tick of which may carry an impact (INT64_MAX if
 * none): minutes before it are exactly the market's own. */
int64_t cmee__impact_next(const cmee__impact *im, int64_t minute);
/* The impact of symbol @p idx of @p m, or NULL. */
static inline const cmee__impact *cmee__impact_of(const cmee_market *m, size_t idx)
{
    return idx < m->nimp ? m->imp[idx] : NULL;
}
/* Candles over impacted minutes: as generate() in market.c, with every impacted minute folded
 * from its impacted ticks and every other minute from the path as usual. */
void cmee__impact_candles(const cmee_market *m, size_t idx, int64_t tfmin, int64_t min0,
                          size_t count, cmee_candle *out);

/* Find a symbol by name: CMEE_OK with *idx, or a recorded failure. */
cmee_status cmee__market_lookup(const cmee_market *m, const char *symbol, size_t *idx);

#endif
