/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), for session tokens and constant-time
 * token comparison in cmee-server. Small and dependency-free; checked against Python's
 * hashlib and hmac by tests/server/test_server.py. */
#ifndef CMEE_SERVER_SHA256_H
#define CMEE_SERVER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t total;
    unsigned char block[64];
    size_t fill;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, unsigned char out[SHA256_LEN]);
void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);
void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                 unsigned char out[SHA256_LEN]);

#endif
