/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The JSON form of a scenario. Reading uses jansson and then cmee_scenario_new(), so a scenario
 * from JSON is validated exactly like one built in C. Writing is done by hand: jansson's real
 * formatting is not the shortest that reads back, and a fixed key order and number format make
 * the text canonical (equal scenarios, identical bytes). */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_int.h"

/* Limits on the input: a scenario of 3 x 256 items is far below both. */
#define JSON_MAX_BYTES ((size_t)1 << 20)
#define JSON_MAX_NESTING 32

/* ---- errors --------------------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static cmee_status
fail(cmee_error *err, cmee_status st, const char *field, const char *fmt, ...)
{
    if (err) {
        char msg[sizeof err->text];
        va_list ap;
        va_start(ap, fmt);
        cmee__vfmt(msg, sizeof msg, fmt, ap);
        va_end(ap);
        err->status = st;
        cmee__fmt(err->field, sizeof err->field, "%s", field);
        cmee__fmt(err->text, sizeof err->text, "%s: %s", field, msg);
    }
    return st;
}

#define BAD(path, ...) fail(err, CMEE_EINVAL, (path), __VA_ARGS__)

/* A key of the input made safe for a path: at most 20 bytes, odd bytes shown as '?'. */
static void safe_key(char *buf, size_t cap, const char *key)
{
    size_t n = 0, i = 0;
    for (; key[i] && i < 20 && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)key[i];
        buf[n++] = (c < 0x20 || c >= 0x7f || c == '"') ? '?' : (char)c;
    }
    if (key[i] && n + 4 < cap) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

/* ---- reading values ------------------------------------------------------------------- */

/* jansson's own depth limit is 2048; a scenario needs 4 levels. Counting brackets outside
 * strings refuses deeper input before jansson builds anything. */
static cmee_status check_nesting(const char *s, size_t len, cmee_error *err)
{
    int depth = 0;
    bool in_string = false;
    size_t line = 1, col = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        col++;
        if (in_string) {
            if (c == '\\') {
                i++;
                col++;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > JSON_MAX_NESTING)
                return BAD("json", "line %zu, column %zu: nested deeper than %d levels", line, col,
                           JSON_MAX_NESTING);
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == '\n') {
            line++;
            col = 0;
        }
    }
    return CMEE_OK;
}

static cmee_status get_number(const json_t *v, const char *path, double *out, cmee_error *err)
{
    if (!json_is_number(v))
        return BAD(path, "expected a number, got %s", type_name(v));
    *out = json_number_value(v);
    return CMEE_OK;
}

/* "90s", "30m", "2h", "7d", "250ms": digits and a unit. */
static bool parse_duration(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0)
        return false;
    const char *unit = s + i;
    int64_t mult;
    if (strcmp(unit, "ms") == 0)
        mult = 1;
    else if (strcmp(unit, "s") == 0)
        mult = 1000;
    else if (strcmp(unit, "m") == 0)
        mult = 60000;
    else if (strcmp(unit, "h") == 0)
        mult = 3600000;
    else if (strcmp(unit, "d") == 0)
        mult = 86400000;
    else
        return false;
    if (v > INT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

static cmee_status get_time(const json_t *v, const char *path, int64_t *out, cmee_error *err)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return CMEE_OK;
    }
    if (json_is_string(v)) {
        if (parse_duration(json_string_value(v), out))
            return CMEE_OK;
        char q[32];
        safe_key(q, sizeof q, json_string_value(v));
        return BAD(path,
                   "expected a duration such as \"250ms\", \"90s\", \"30m\", \"2h\" or \"7d\", "
                   "got \"%s\"",
                   q);
    }
    return BAD(path, "expected a time: an integer of ms or a duration string like \"30m\", got %s",
               type_name(v));
}

/* One of @p names (NULL-terminated list) as its index. */
static cmee_status get_enum(const json_t *v, const char *path, const char *const *names,
                            const char *expected, int *out, cmee_error *err)
{
    if (json_is_string(v)) {
        for (int i = 0; names[i]; i++) {
            if (strcmp(json_string_value(v), names[i]) == 0) {
                *out = i;
                return CMEE_OK;
            }
        }
        char q[32];
        safe_key(q, sizeof q, json_string_value(v));
        return BAD(path, "expected %s, got \"%s\"", expected, q);
    }
    return BAD(path, "expected %s, got %s", expected, type_name(v));
}

static const char *const level_names[] = {"none", "price", "change", NULL};
static const char *const mode_names[] = {"keep", "span", "annual", NULL};
static const char *const kind_names[] = {"shock", "halt", "spike", "target", NULL};

static cmee_status unknown_key(const char *prefix, const char *key, cmee_error *err)
{
    char k[32], path[64];
    safe_key(k, sizeof k, key);
    cmee__fmt(path, sizeof path, "%s.%s", prefix, k);
    return BAD(path, "unknown key");
}

static cmee_status missing(const char *prefix, const char *key, const char *what, cmee_error *err)
{
    char path[64];
    cmee__fmt(path, sizeof path, "%s.%s", prefix, key);
    return BAD(path, "missing, expected %s", what);
}

/* {"kind": "none"|"price"|"change", "value": number}; value may be left out for none. */
static cmee_status read_level(const json_t *v, const char *prefix, cmee_level *out, cmee_error *err)
{
    if (!json_is_object(v))
        return BAD(prefix, "expected an object {\"kind\", \"value\"}, got %s", type_name(v));
    char path[64];
    bool have_kind = false, have_value = false;
    cmee_level l = {CMEE_LEVEL_NONE, 0};
    cmee_status st = CMEE_OK;
    for (void *it = json_object_iter((json_t *)v); it;
         it = json_object_iter_next((json_t *)v, it)) {
        const char *key = json_object_iter_key(it);
        json_t *val = json_object_iter_value(it);
        cmee__fmt(path, sizeof path, "%s.%s", prefix, key);
        if (strcmp(key, "kind") == 0) {
            int k = 0;
            st = get_enum(val, path, level_names, "\"none\", \"price\" or \"change\"", &k, err);
            l.kind = (cmee_level_kind)k;
            have_kind = true;
        } else if (strcmp(key, "value") == 0) {
            st = get_number(val, path, &l.value, err);
            have_value = true;
        } else {
            st = unknown_key(prefix, key, err);
        }
        if (st != CMEE_OK)
            return st;
    }
    if (!have_kind)
        return missing(prefix, "kind", "\"none\", \"price\" or \"change\"", err);
    if (!have_value && l.kind != CMEE_LEVEL_NONE)
        return missing(prefix, "value", "a number", err);
    *out = l;
    return CMEE_OK;
}

static cmee_status read_regime(const json_t *v, size_t i, cmee_regime *r, cmee_error *err)
{
    char prefix[32], path[64];
    cmee__fmt(prefix, sizeof prefix, "regimes[%zu]", i);
    if (!json_is_object(v))
        return BAD(prefix, "expected an object, got %s", type_name(v));
    cmee_regime_init(r);
    bool have_start = false, have_end = false;
    cmee_status st = CMEE_OK;
    for (void *it = json_object_iter((json_t *)v); it;
         it = json_object_iter_next((json_t *)v, it)) {
        const char *key = json_object_iter_key(it);
        json_t *val = json_object_iter_value(it);
        cmee__fmt(path, sizeof path, "%s.%s", prefix, key);
        if (strcmp(key, "start") == 0) {
            st = get_time(val, path, &r->start, err);
            have_start = true;
        } else if (strcmp(key, "end") == 0) {
            st = get_time(val, path, &r->end, err);
            have_end = true;
        } else if (strcmp(key, "drift_mode") == 0) {
            int m = 0;
            st = get_enum(val, path, mode_names, "\"keep\", \"span\" or \"annual\"", &m, err);
            r->drift_mode = (cmee_drift_mode)m;
        } else if (strcmp(key, "drift") == 0) {
            st = get_number(val, path, &r->drift, err);
        } else if (strcmp(key, "vol_mult") == 0) {
            st = get_number(val, path, &r->vol_mult, err);
        } else if (strcmp(key, "volume_mult") == 0) {
            st = get_number(val, path, &r->volume_mult, err);
        } else if (strcmp(key, "jump_rate") == 0) {
            st = get_number(val, path, &r->jump_rate, err);
        } else if (strcmp(key, "jump_mean") == 0) {
            st = get_number(val, path, &r->jump_mean, err);
        } else if (strcmp(key, "jump_stdev") == 0) {
            st = get_number(val, path, &r->jump_stdev, err);
        } else if (strcmp(key, "revert_half_life") == 0) {
            st = get_time(val, path, &r->revert_half_life, err);
        } else if (strcmp(key, "revert_to") == 0) {
            st = read_level(val, path, &r->revert_to, err);
        } else {
            st = unknown_key(prefix, key, err);
        }
        if (st != CMEE_OK)
            return st;
    }
    if (!have_start)
        return missing(prefix, "start", "a time", err);
    if (!have_end)
        return missing(prefix, "end", "a time", err);
    return CMEE_OK;
}

/* Which keys each event kind has, besides "kind" and "at". */
enum { K_END = 1, K_SIZE = 2, K_HALF_LIFE = 4, K_TARGET = 8 };
static const unsigned kind_keys[] = {
    [CMEE_EVENT_SHOCK] = K_SIZE,
    [CMEE_EVENT_HALT] = K_END,
    [CMEE_EVENT_SPIKE] = K_SIZE | K_HALF_LIFE,
    [CMEE_EVENT_TARGET] = K_END | K_TARGET,
};

static cmee_status read_event(const json_t *v, size_t i, cmee_event *e, cmee_error *err)
{
    char prefix[32], path[64];
    cmee__fmt(prefix, sizeof prefix, "events[%zu]", i);
    if (!json_is_object(v))
        return BAD(prefix, "expected an object, got %s", type_name(v));
    const json_t *kv = json_object_get(v, "kind");
    if (!kv)
        return missing(prefix, "kind", "\"shock\", \"halt\", \"spike\" or \"target\"", err);
    cmee__fmt(path, sizeof path, "%s.kind", prefix);
    int kind = 0;
    cmee_status st =
        get_enum(kv, path, kind_names, "\"shock\", \"halt\", \"spike\" or \"target\"", &kind, err);
    if (st != CMEE_OK)
        return st;
    cmee_event_init(e, (cmee_event_kind)kind);
    unsigned allowed = kind_keys[kind], seen = 0;
    bool have_at = false;
    for (void *it = json_object_iter((json_t *)v); it;
         it = json_object_iter_next((json_t *)v, it)) {
        const char *key = json_object_iter_key(it);
        json_t *val = json_object_iter_value(it);
        cmee__fmt(path, sizeof path, "%s.%s", prefix, key);
        unsigned bit = strcmp(key, "end") == 0         ? K_END
                       : strcmp(key, "size") == 0      ? K_SIZE
                       : strcmp(key, "half_life") == 0 ? K_HALF_LIFE
                       : strcmp(key, "target") == 0    ? K_TARGET
                                                       : 0;
        if (bit && !(allowed & bit))
            return BAD(path, "not a field of a %s event", kind_names[kind]);
        seen |= bit;
        if (strcmp(key, "kind") == 0)
            continue;
        if (strcmp(key, "at") == 0) {
            st = get_time(val, path, &e->at, err);
            have_at = true;
        } else if (bit == K_END) {
            st = get_time(val, path, &e->end, err);
        } else if (bit == K_SIZE) {
            st = get_number(val, path, &e->size, err);
        } else if (bit == K_HALF_LIFE) {
            st = get_time(val, path, &e->half_life, err);
        } else if (bit == K_TARGET) {
            st = read_level(val, path, &e->target, err);
        } else {
            st = unknown_key(prefix, key, err);
        }
        if (st != CMEE_OK)
            return st;
    }
    if (!have_at)
        return missing(prefix, "at", "a time", err);
    /* half_life of a spike is optional (one hour); the other fields of a kind are required. */
    if ((allowed & K_END) && !(seen & K_END))
        return missing(prefix, "end", "a time", err);
    if ((allowed & K_SIZE) && !(seen & K_SIZE))
        return missing(prefix, "size", "a number", err);
    if ((allowed & K_TARGET) && !(seen & K_TARGET))
        return missing(prefix, "target", "an object {\"kind\", \"value\"}", err);
    return CMEE_OK;
}

/* An optional array member: its size, checked against the item limit. */
static cmee_status get_array(const json_t *root, const char *key, const json_t **arr, size_t *n,
                             cmee_error *err)
{
    const json_t *a = json_object_get(root, key);
    *arr = a;
    *n = 0;
    if (!a)
        return CMEE_OK;
    if (!json_is_array(a))
        return BAD(key, "expected an array, got %s", type_name(a));
    *n = json_array_size(a);
    if (*n > CMEE_SCENARIO_MAX_ITEMS)
        return BAD(key, "at most %d items, got %zu", CMEE_SCENARIO_MAX_ITEMS, *n);
    return CMEE_OK;
}

/* Everything read from the document; the arrays use the scenario's allocator. */
typedef struct parsed {
    cmee_scenario_spec spec;
    const char **symbols;
    cmee_regime *regimes;
    cmee_event *events;
} parsed;

static cmee_status read_root(const json_t *root, const cmee__alloc *al, parsed *p, cmee_error *err)
{
    if (!json_is_object(root))
        return BAD("json", "expected an object at the top level, got %s", type_name(root));
    for (void *it = json_object_iter((json_t *)root); it;
         it = json_object_iter_next((json_t *)root, it)) {
        const char *key = json_object_iter_key(it);
        if (strcmp(key, "name") != 0 && strcmp(key, "description") != 0 &&
            strcmp(key, "symbols") != 0 && strcmp(key, "regimes") != 0 &&
            strcmp(key, "events") != 0) {
            char k[32];
            safe_key(k, sizeof k, key);
            return BAD(k, "unknown key");
        }
    }
    const json_t *name = json_object_get(root, "name");
    if (!name)
        return BAD("name", "missing, expected a string");
    if (!json_is_string(name))
        return BAD("name", "expected a string, got %s", type_name(name));
    p->spec.name = json_string_value(name);
    const json_t *desc = json_object_get(root, "description");
    if (desc) {
        if (!json_is_string(desc))
            return BAD("description", "expected a string, got %s", type_name(desc));
        p->spec.description = json_string_value(desc);
    }

    const json_t *syms, *regs, *evs;
    size_t ns, nr, ne;
    cmee_status st = get_array(root, "symbols", &syms, &ns, err);
    if (st == CMEE_OK)
        st = get_array(root, "regimes", &regs, &nr, err);
    if (st == CMEE_OK)
        st = get_array(root, "events", &evs, &ne, err);
    if (st != CMEE_OK)
        return st;
    if ((ns && !(p->symbols = cmee__calloc(al, ns, sizeof *p->symbols))) ||
        (nr && !(p->regimes = cmee__calloc(al, nr, sizeof *p->regimes))) ||
        (ne && !(p->events = cmee__calloc(al, ne, sizeof *p->events))))
        return fail(err, CMEE_ENOMEM, "alloc", "out of memory reading the JSON form");
    char path[32];
    for (size_t i = 0; i < ns; i++) {
        const json_t *s = json_array_get(syms, i);
        if (!json_is_string(s)) {
            cmee__fmt(path, sizeof path, "symbols[%zu]", i);
            return BAD(path, "expected a string, got %s", type_name(s));
        }
        p->symbols[i] = json_string_value(s);
    }
    for (size_t i = 0; i < nr; i++)
        if ((st = read_regime(json_array_get(regs, i), i, &p->regimes[i], err)) != CMEE_OK)
            return st;
    for (size_t i = 0; i < ne; i++)
        if ((st = read_event(json_array_get(evs, i), i, &p->events[i], err)) != CMEE_OK)
            return st;
    p->spec.symbols = p->symbols;
    p->spec.nsymbols = ns;
    p->spec.regimes = p->regimes;
    p->spec.nregimes = nr;
    p->spec.events = p->events;
    p->spec.nevents = ne;
    return CMEE_OK;
}

cmee_status cmee_scenario_from_json(const char *json, size_t len, const cmee_market *registry,
                                    const cmee_allocator *alloc, cmee_scenario **out,
                                    cmee_error *err)
{
    if (!json)
        return BAD("json", "is NULL");
    if (!out)
        return BAD("out", "is NULL");
    cmee__alloc al;
    if (cmee__alloc_init(&al, alloc) != CMEE_OK)
        return BAD("alloc", "an allocator needs malloc, realloc and free");
    if (len > JSON_MAX_BYTES)
        return BAD("json", "%zu bytes, more than the limit of %zu", len, JSON_MAX_BYTES);
    cmee_status st = check_nesting(json, len, err);
    if (st != CMEE_OK)
        return st;
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return fail(err, CMEE_ENOMEM, "alloc", "out of memory parsing JSON");
        return BAD("json", "line %d, column %d: %s", je.line, je.column, je.text);
    }
    parsed p;
    memset(&p, 0, sizeof p);
    st = read_root(root, &al, &p, err);
    if (st == CMEE_OK)
        st = cmee_scenario_new(&p.spec, registry, alloc, out, err);
    cmee__free(&al, p.symbols);
    cmee__free(&al, p.regimes);
    cmee__free(&al, p.events);
    json_decref(root);
    return st;
}

/* ---- writing -------------------------------------------------------------------------- */

/* Counts always; copies only when buf is set (the second pass, once the size is known). */
typedef struct writer {
    char *buf;
    size_t len;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->buf)
        memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void puts_w(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_string(writer *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (*p) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            if (*p >= 0x20) {
                /* Other bytes, UTF-8 included (validated on creation), go as they are. */
                put(w, (const char *)p, 1);
                continue;
            }
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            n = 6;
        }
        put(w, esc, n);
    }
    put(w, "\"", 1);
}

static void put_int(writer *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    put(w, b, (size_t)n);
}

/* The shortest of %.15g, %.16g and %.17g that strtod reads back to the same double (%.17g
 * always does). Zero is written "0" whatever its sign. The text is made locale-proof: a
 * locale's decimal comma becomes '.'. */
static void put_double(writer *w, double x)
{
    char b[40];
    if (x == 0) {
        put(w, "0", 1);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x)
            break;
    }
    for (char *c = b; *c; c++)
        if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '+' || *c == 'e'))
            *c = '.';
    puts_w(w, b);
}

static void put_level(writer *w, const cmee_level *l)
{
    puts_w(w, "{\"kind\":");
    put_string(w, level_names[l->kind]);
    puts_w(w, ",\"value\":");
    put_double(w, l->value);
    puts_w(w, "}");
}

static void put_regime(writer *w, const cmee_regime *r)
{
    puts_w(w, "{\"start\":");
    put_int(w, r->start);
    puts_w(w, ",\"end\":");
    put_int(w, r->end);
    puts_w(w, ",\"drift_mode\":");
    put_string(w, mode_names[r->drift_mode]);
    puts_w(w, ",\"drift\":");
    put_double(w, r->drift);
    puts_w(w, ",\"vol_mult\":");
    put_double(w, r->vol_mult);
    puts_w(w, ",\"jump_rate\":");
    put_double(w, r->jump_rate);
    puts_w(w, ",\"jump_mean\":");
    put_double(w, r->jump_mean);
    puts_w(w, ",\"jump_stdev\":");
    put_double(w, r->jump_stdev);
    puts_w(w, ",\"revert_half_life\":");
    put_int(w, r->revert_half_life);
    puts_w(w, ",\"revert_to\":");
    put_level(w, &r->revert_to);
    /* Written only when it is not 1, so that the text of every scenario made before the
     * field existed (and stored as such) stays the same. */
    if (r->volume_mult != 1.0) {
        puts_w(w, ",\"volume_mult\":");
        put_double(w, r->volume_mult);
    }
    puts_w(w, "}");
}

static void put_event(writer *w, const cmee_event *e)
{
    puts_w(w, "{\"kind\":");
    put_string(w, kind_names[e->kind]);
    puts_w(w, ",\"at\":");
    put_int(w, e->at);
    unsigned keys = kind_keys[e->kind];
    if (keys & K_END) {
        puts_w(w, ",\"end\":");
        put_int(w, e->end);
    }
    if (keys & K_SIZE) {
        puts_w(w, ",\"size\":");
        put_double(w, e->size);
    }
    if (keys & K_HALF_LIFE) {
        puts_w(w, ",\"half_life\":");
        put_int(w, e->half_life);
    }
    if (keys & K_TARGET) {
        puts_w(w, ",\"target\":");
        put_level(w, &e->target);
    }
    puts_w(w, "}");
}

static void put_scenario(writer *w, const cmee_scenario *sc)
{
    puts_w(w, "{\"name\":");
    put_string(w, sc->name);
    puts_w(w, ",\"description\":");
    put_string(w, sc->description);
    puts_w(w, ",\"symbols\":[");
    for (size_t i = 0; i < sc->nsymbols; i++) {
        if (i)
            puts_w(w, ",");
        put_string(w, sc->symbols[i]);
    }
    puts_w(w, "],\"regimes\":[");
    for (size_t i = 0; i < sc->nregimes; i++) {
        if (i)
            puts_w(w, ",");
        put_regime(w, &sc->regimes[i]);
    }
    puts_w(w, "],\"events\":[");
    for (size_t i = 0; i < sc->nevents; i++) {
        if (i)
            puts_w(w, ",");
        put_event(w, &sc->events[i]);
    }
    puts_w(w, "]}");
}

cmee_status cmee_scenario_to_json(const cmee_scenario *sc, char *buf, size_t cap, size_t *len)
{
    if (!sc || !len || (!buf && cap > 0))
        return CMEE_EINVAL;
    writer w = {NULL, 0};
    put_scenario(&w, sc);
    *len = w.len;
    /* (NULL, 0) asks for the length only, as cmee_market_candles() does for a count. */
    if (!buf)
        return CMEE_OK;
    if (cap <= w.len)
        return CMEE_ENOSPACE;
    w = (writer){buf, 0};
    put_scenario(&w, sc);
    buf[w.len] = '\0';
    return CMEE_OK;
}
