/* A tiny TAP-style checker for the unit tests. */
#ifndef VMK_TEST_CHECK_H
#define VMK_TEST_CHECK_H

#include <stdio.h>

static int check_n, check_failed;

#define CHECK(cond, ...)                                                                                     \
	do {                                                                                                 \
		check_n++;                                                                                   \
		if (cond) {                                                                                  \
			printf("ok %d - ", check_n);                                                         \
		} else {                                                                                     \
			check_failed++;                                                                      \
			printf("not ok %d - (%s:%d: %s) ", check_n, __FILE__, __LINE__, #cond);              \
		}                                                                                            \
		printf(__VA_ARGS__);                                                                         \
		printf("\n");                                                                                \
	} while (0)

static inline int check_done(void)
{
	printf("1..%d\n# %d failed\n", check_n, check_failed);
	return check_failed ? 1 : 0;
}

#endif
