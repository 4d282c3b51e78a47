/* Shared includes and helpers for the cmocka unit tests. */
#ifndef MS_TEST_UNIT_H
#define MS_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the three above first */
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates a fresh temporary directory for one test; path must hold PATH_MAX bytes. */
static inline void unit_tmpdir(char *path)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(path, PATH_MAX, "%s/msfwd-unit-XXXXXX", base ? base : "/tmp");

    assert_true(n > 0 && n < PATH_MAX);
    assert_non_null(mkdtemp(path));
}

/* Writes text to dir/name and returns the full path in out (PATH_MAX bytes). */
static inline void unit_write_file(const char *dir, const char *name, const char *text, char *out)
{
    FILE *f;
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

    assert_true(n > 0 && n < PATH_MAX);
    f = fopen(out, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Removes a test directory tree (best effort). */
static inline void unit_rmtree(const char *dir)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "# could not remove %s\n", dir);
    }
}

#endif
