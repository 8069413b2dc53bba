#!/bin/sh
# SPDX-License-Identifier: MIT
# The newest Debian stock kernel (linux-image-*-amd64) installed on this
# machine: what the module is built for and what the VM boots.  The
# host's running kernel is deliberately not used.
ls /lib/modules 2>/dev/null | grep -E '^[0-9.]+-[0-9]+-amd64$' | sort -V | tail -n 1
