#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every C file of the project is laid out as .clang-format says (clang-format --dry-run --Werror).
# Usage: check-format.sh SOURCE_ROOT [CLANG_FORMAT]
set -eu
cd "$1"
# Not the VM tier's cache: its installed build tree holds meson's generated C.
find src tests bench -path tests/vm/cache -prune -o -name '*.[ch]' -print | sort |
        xargs "${2:-clang-format}" --dry-run --Werror
