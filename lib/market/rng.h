/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Counter-based random streams: Philox4x32-10 (Random123) keyed by (seed, symbol), with the
 * counter naming what is drawn (purpose, tree level, index). Any stream is reachable directly,
 * which is what gives the generator random access and order independence. A stream is also a
 * gsl_rng, so GSL's variates (ziggurat normals, binomial, chi-squared) draw from it. */
#ifndef CMEE_MARKET_RNG_H
#define CMEE_MARKET_RNG_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

/* What a stream is for; part of the counter, so streams never overlap. */
enum cmee__purpose {
    CMEE__P_TREE_W = 1,   /* Brownian bridge normals of the day tree */
    CMEE__P_TREE_C,       /* cascade weights of the day tree */
    CMEE__P_TREE_J,       /* jump counts and sizes of the day tree */
    CMEE__P_DAY_W,        /* hour-level bridge normals of one day */
    CMEE__P_DAY_C,        /* hour-level cascade weights */
    CMEE__P_DAY_J,        /* hour-level jump split */
    CMEE__P_HOUR_W,       /* minute-level bridge normals of one hour */
    CMEE__P_HOUR_C,       /* minute-level cascade and tail weights */
    CMEE__P_HOUR_J,       /* minute-level jump split, times and pre-jump values */
    CMEE__P_HOUR_X,       /* low 24 bits of the extremes' uniforms: a block per two minutes */
    CMEE__P_HOUR_V,       /* coin, volume and top 8 bits of the extremes' uniforms */
    CMEE__P_TICK,         /* tick path of one minute */
    CMEE__P_SCEN_J,       /* scenario jumps: a block per minute */
    CMEE__P_TAPE,         /* trade sides and sizes of one minute */
    CMEE__P_BOOK,         /* order book of one tick moment (level = tick index) */
};

typedef struct cmee__stream {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    unsigned pos;
} cmee__stream;

/* Key of a symbol's streams: a hash of the market seed and the symbol name. */
void cmee__rng_key(uint64_t seed, const char *name, uint32_t key[2]);

/* Position @p s at the start of stream (purpose, level, index). */
void cmee__stream_seek(cmee__stream *s, const uint32_t key[2], unsigned purpose, unsigned level,
                       uint32_t index);

/* One Philox block: counter (sub, index, purpose | level << 8, 0). */
void cmee__philox_block(const uint32_t key[2], unsigned purpose, unsigned level, uint32_t index,
                        uint32_t sub, uint32_t out[4]);

/* Refill a stream's buffer with its next Philox block. */
void cmee__stream_refill(cmee__stream *s);

/* The next 32-bit word of a stream. */
static inline uint32_t cmee__stream_u32(cmee__stream *s)
{
    if (s->pos == 4)
        cmee__stream_refill(s);
    return s->buf[s->pos++];
}

/* A gsl_rng view of a stream; valid while @p s lives. No allocation. */
static inline gsl_rng cmee__stream_gsl(cmee__stream *s)
{
    extern const gsl_rng_type cmee__philox_gsl_type;
    gsl_rng r = {&cmee__philox_gsl_type, s};
    return r;
}

/* A uniform double in (0, 1) from 53 bits: never 0 or 1, so log() is always finite. */
static inline double cmee__u53(uint32_t hi, uint32_t lo)
{
    uint64_t k = ((uint64_t)hi << 21) | (lo >> 11);
    return ((double)k + 0.5) * (1.0 / 9007199254740992.0);
}

/* A uniform double in (0, 1) from 32 bits. */
static inline double cmee__u32(uint32_t w)
{
    return ((double)w + 0.5) * (1.0 / 4294967296.0);
}

/* The gsl_rng type itself, for benchmarks: gsl_rng_alloc(cmee__philox_type()). */
const gsl_rng_type *cmee__philox_type(void);

#endif
