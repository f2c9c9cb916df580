/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: scenario validation from its JSON form (cmee_scenario_from_json, lib/scenario/
 * json.c). Any input must give CMEE_OK or an error status, never a crash; an accepted scenario
 * must survive the documented round trip: to_json, from_json again, and the same text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmee.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cmee_market *registry;

static char *dump(const cmee_scenario *sc, size_t *len)
{
    if (cmee_scenario_to_json(sc, NULL, 0, len) != CMEE_OK)
        abort();
    char *buf = malloc(*len + 1);
    if (!buf)
        abort();
    if (cmee_scenario_to_json(sc, buf, *len + 1, len) != CMEE_OK)
        abort();
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cmee_scenario *sc = NULL, *again = NULL;
    cmee_error err;

    if (!registry && cmee_market_new(42, NULL, &registry) != CMEE_OK)
        abort();
    /* The first byte chooses whether symbols are checked against a market. */
    const cmee_market *reg = size > 0 && (data[0] & 1) ? registry : NULL;
    cmee_status st = cmee_scenario_from_json((const char *)data, size, reg, NULL, &sc, &err);
    if (st != CMEE_OK) {
        if (sc)
            abort(); /* out-parameters are written only on success */
        if (err.status != st || memchr(err.text, '\0', sizeof err.text) == NULL)
            abort();
        return 0;
    }
    size_t len1, len2;
    char *text1 = dump(sc, &len1);
    st = cmee_scenario_from_json(text1, len1, reg, NULL, &again, &err);
    if (st != CMEE_OK) {
        fprintf(stderr, "round trip refused: %s\n%.*s\n", err.text, (int)len1, text1);
        abort();
    }
    char *text2 = dump(again, &len2);
    if (len1 != len2 || memcmp(text1, text2, len1) != 0) {
        fprintf(stderr, "round trip changed the text:\n%s\n%s\n", text1, text2);
        abort();
    }
    free(text1);
    free(text2);
    cmee_scenario_free(again);
    cmee_scenario_free(sc);
    return 0;
}
