/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee.h
 * @brief Umbrella header: includes every public libcmee header.
 */
#ifndef CMEE_H
#define CMEE_H

#include <cmee/core.h>
#include <cmee/market.h>
#include <cmee/book.h>
#include <cmee/signals.h>
#include <cmee/scenario.h>
#include <cmee/store.h>
#include <cmee/session.h>
#include <cmee/report.h>
#include <cmee/broadcast.h>

#endif
