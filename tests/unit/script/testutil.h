/* testutil.h: helpers shared by the script unit tests (cmocka). */
#ifndef SCR_TESTUTIL_H
#define SCR_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fakehost.h"

extern struct fake F; /* defined by each test file */

/* Run src on a fresh fake host; fail the test on error; compare the output. */
#define RUN_OK(src, expected)                                                                      \
    do {                                                                                           \
        char err_[256];                                                                            \
        fake_init(&F);                                                                             \
        int st_ = fake_exec(&F, NULL, (src), NULL, err_, sizeof err_);                             \
        if (st_ != 0)                                                                              \
            fail_msg("script failed (%d): %s\n  source: %s", st_, err_, (src));                    \
        assert_string_equal(F.out, (expected));                                                    \
    } while (0)

/* Run src (on the current F, not reset) and expect status with a message containing msg. */
#define RUN_ERR_ON(src, status, msg)                                                               \
    do {                                                                                           \
        char err_[256];                                                                            \
        int st_ = fake_exec(&F, NULL, (src), NULL, err_, sizeof err_);                             \
        if (st_ != (status) || !strstr(err_, (msg)))                                               \
            fail_msg("expected status %d with \"%s\", got %d: \"%s\"\n  source: %s", (status),     \
                     (msg), st_, err_, (src));                                                     \
    } while (0)

#define RUN_ERR(src, status, msg)                                                                  \
    do {                                                                                           \
        fake_init(&F);                                                                             \
        RUN_ERR_ON(src, status, msg);                                                              \
    } while (0)

#define EVAL(expr) (fake_init(&F), fake_eval(&F, (expr)))

#endif
