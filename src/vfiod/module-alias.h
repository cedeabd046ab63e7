/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The kernel's modules.alias, for the PCI aliases only: parsed once and kept, parsed again when
 * the file is replaced or changes (depmod writes a new file and renames it over the old one), so
 * that choosing drivers for many devices does not read and parse some 10k lines each time. */

#include <stdbool.h>

/* The first module of the wanted kind whose pattern matches modalias: a vfio variant driver
 * ("alias vfio_pci:v...d... mlx5_vfio_pci", vfio_pci's own catch-all left out) or a host driver
 * ("alias pci:v...d... e1000e", vfio modules left out). Returns 1 and the module (allocated), 0
 * when none matches (also when the file cannot be read), or -ENOMEM. */
int module_alias_match(const char *alias_file, const char *modalias, bool want_vfio, char **ret);

/* How many times a modules.alias was parsed so far (for tests). */
unsigned module_alias_loads(void);

/* Forgets the parsed file (a test that rewrites it faster than its timestamps change). */
void module_alias_cache_clear(void);
