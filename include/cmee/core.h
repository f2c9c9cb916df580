/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/core.h
 * @brief Status codes, allocator hook and version of libcmee.
 *
 * Every fallible libcmee call returns a ::cmee_status; 0 (::CMEE_OK) is success. The text of a
 * code comes from cmee_status_str(); the details of the last failure on a handle come from that
 * handle's errmsg call (for example cmee_market_errmsg()). Out-parameters are written only on
 * success.
 *
 * Thread-safety: every function in this header is thread-safe.
 */
#ifndef CMEE_CORE_H
#define CMEE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <cmee/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CMEE_BUILDING) && defined(__GNUC__)
#define CMEE_API __attribute__((visibility("default")))
#else
#define CMEE_API
#endif

/**
 * The status table: X(NAME, value, message). One line per code generates the enum, the names
 * and the messages, so they never drift apart. Values are stable: new codes are appended.
 */
#define CMEE_STATUS_MAP(X)                                                                         \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, 1, "invalid argument")                                                               \
    X(ENOMEM, 2, "out of memory")                                                                  \
    X(ENOTFOUND, 3, "not found")                                                                   \
    X(ERANGE, 4, "out of range")                                                                   \
    X(ENOSPACE, 5, "buffer too small")                                                             \
    X(EEXIST, 6, "already exists")                                                                 \
    X(ESTATE, 7, "operation not allowed in the current state")                                     \
    X(EIO, 8, "input/output error")                                                                \
    X(EBUSY, 9, "resource busy")                                                                   \
    X(ECORRUPT, 10, "data is corrupt")                                                             \
    X(EVERSION, 11, "unsupported version")                                                         \
    X(EINTERNAL, 12, "internal error")

/** Result of every fallible call. ::CMEE_OK (0) is success; every other value is an error. */
typedef enum cmee_status {
#define CMEE__STATUS_ENUM(name, value, msg) CMEE_##name = value,
    CMEE_STATUS_MAP(CMEE__STATUS_ENUM)
#undef CMEE__STATUS_ENUM
} cmee_status;

/**
 * Static English text for a status code, e.g. "out of range".
 *
 * @param[in] status any value; unknown values give "unknown status".
 * @returns a borrowed, static, NUL-terminated string; never NULL.
 * @since 0.1.0
 */
CMEE_API const char *cmee_status_str(cmee_status status);

/**
 * The symbolic name of a status code without its prefix, e.g. "ERANGE" for ::CMEE_ERANGE.
 * Bindings use it to name exception classes.
 *
 * @param[in] status any value; unknown values give "UNKNOWN".
 * @returns a borrowed, static, NUL-terminated string; never NULL.
 * @since 0.1.0
 */
CMEE_API const char *cmee_status_name(cmee_status status);

/**
 * Custom memory allocation for one handle and everything it allocates. Pass NULL wherever a
 * `const cmee_allocator *` is accepted to use the C library's malloc/realloc/free. The struct
 * is copied: it need not outlive the call, but @c ud must outlive the handle.
 *
 * The functions must behave like their C library namesakes: @c malloc and @c realloc return
 * NULL on failure (libcmee then returns ::CMEE_ENOMEM and leaks nothing); @c free accepts NULL.
 * They may be called from any thread that uses the handle.
 */
typedef struct cmee_allocator {
    void *(*malloc)(void *ud, size_t size);             /**< allocate @p size bytes */
    void *(*realloc)(void *ud, void *ptr, size_t size); /**< resize a block (ptr may be NULL) */
    void (*free)(void *ud, void *ptr);                  /**< release a block (ptr may be NULL) */
    void *ud;                                           /**< passed to every call */
} cmee_allocator;

/**
 * One candle (OHLCV bar). The market generator produces them; the signals module accepts any.
 * For generated candles prices are on the symbol's tick grid and volume is a whole number.
 */
typedef struct cmee_candle {
    int64_t time;  /**< open time, ms since the Unix epoch (UTC), aligned to the timeframe */
    double open;   /**< first price, equal to the previous candle's close */
    double high;   /**< highest price */
    double low;    /**< lowest price */
    double close;  /**< last price */
    double volume; /**< traded volume (whole units for generated candles) */
} cmee_candle;

/**
 * Details of a failure of a call that has no handle to keep them (for example an indicator
 * computation). Pass NULL where you do not want them. Filled only on failure.
 */
typedef struct cmee_error {
    cmee_status status; /**< the status the call returned */
    char field[32];     /**< the argument or field at fault, e.g. "period" or "close[17]" */
    char text[192];     /**< a sentence naming the field and the bad value */
} cmee_error;

/**
 * The version of the library actually loaded, as "MAJOR.MINOR.PATCH". Compare with
 * ::CMEE_VERSION_STRING to detect a header/library mismatch.
 *
 * @returns a borrowed, static string; never NULL.
 * @since 0.1.0
 */
CMEE_API const char *cmee_version(void);

/**
 * The version of the library actually loaded as MAJOR * 10000 + MINOR * 100 + PATCH, the same
 * encoding as ::CMEE_VERSION_NUMBER.
 *
 * @since 0.1.0
 */
CMEE_API unsigned cmee_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_CORE_H */
