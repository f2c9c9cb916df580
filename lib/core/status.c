/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "internal.h"

const char *cmee_status_str(cmee_status status)
{
    switch (status) {
#define CMEE__STATUS_STR(name, value, msg)                                                         \
    case CMEE_##name:                                                                              \
        return msg;
        CMEE_STATUS_MAP(CMEE__STATUS_STR)
#undef CMEE__STATUS_STR
    }
    return "unknown status";
}

const char *cmee_status_name(cmee_status status)
{
    switch (status) {
#define CMEE__STATUS_NAME(name, value, msg)                                                        \
    case CMEE_##name:                                                                              \
        return #name;
        CMEE_STATUS_MAP(CMEE__STATUS_NAME)
#undef CMEE__STATUS_NAME
    }
    return "UNKNOWN";
}

const char *cmee_version(void)
{
    return CMEE_VERSION_STRING;
}

unsigned cmee_version_number(void)
{
    return CMEE_VERSION_NUMBER;
}
