/* SPDX-License-Identifier: MIT */
/*
 * Old name of ktap.h + helpers.h, kept while tests still include it;
 * include "helpers.h" (it includes ktap.h).  To be removed.
 */
#include "helpers.h"
