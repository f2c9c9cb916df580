/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <Random123/philox.h>

#include "market/rng.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void cmee__rng_key(uint64_t seed, const char *name, uint32_t key[2])
{
    /* FNV-1a over the name, then mixed with the seed: the stream belongs to (seed, name). */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    uint64_t k = splitmix64(seed ^ splitmix64(h));
    key[0] = (uint32_t)k;
    key[1] = (uint32_t)(k >> 32);
}

void cmee__philox_block(const uint32_t key[2], unsigned purpose, unsigned level, uint32_t index,
                        uint32_t sub, uint32_t out[4])
{
    philox4x32_ctr_t c = {{sub, index, (uint32_t)(purpose | (level << 8)), 0}};
    philox4x32_key_t k = {{key[0], key[1]}};
    philox4x32_ctr_t r = philox4x32(c, k);
    memcpy(out, r.v, sizeof r.v);
}

void cmee__stream_seek(cmee__stream *s, const uint32_t key[2], unsigned purpose, unsigned level,
                       uint32_t index)
{
    s->key[0] = key[0];
    s->key[1] = key[1];
    s->ctr[0] = 0;
    s->ctr[1] = index;
    s->ctr[2] = (uint32_t)(purpose | (level << 8));
    s->ctr[3] = 0;
    s->pos = 4;
}

void cmee__stream_refill(cmee__stream *s)
{
    philox4x32_ctr_t c = {{s->ctr[0], s->ctr[1], s->ctr[2], s->ctr[3]}};
    philox4x32_key_t k = {{s->key[0], s->key[1]}};
    philox4x32_ctr_t r = philox4x32(c, k);
    memcpy(s->buf, r.v, sizeof r.v);
    s->ctr[0]++;
    s->pos = 0;
}

static unsigned long philox_get(void *vstate)
{
    return cmee__stream_u32(vstate);
}

static double philox_get_double(void *vstate)
{
    return (double)philox_get(vstate) * (1.0 / 4294967296.0);
}

static void philox_set(void *vstate, unsigned long seed)
{
    /* gsl_rng_set(): a plain stream keyed by the seed alone, used by benchmarks. */
    uint32_t key[2];
    cmee__rng_key((uint64_t)seed, "", key);
    cmee__stream_seek(vstate, key, 0, 0, 0);
}

const gsl_rng_type cmee__philox_gsl_type = {
    "cmee-philox4x32-10", 0xffffffffUL, 0, sizeof(cmee__stream),
    philox_set,           philox_get,   philox_get_double,
};

const gsl_rng_type *cmee__philox_type(void)
{
    return &cmee__philox_gsl_type;
}
