/* check.h: the assertions the unit tests use; each failure prints file:line and the test
 * exits non-zero at the end, so one run reports every failing check. */
#ifndef NETCFAX_CHECK_H
#define NETCFAX_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do {                                                         \
	check_count++;                                                           \
	if (!(cond)) {                                                           \
		check_failures++;                                                \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	}                                                                        \
} while (0)

#define CHECK_INT(a, b) do {                                                     \
	long long va_ = (long long)(a), vb_ = (long long)(b);                    \
	check_count++;                                                           \
	if (va_ != vb_) {                                                        \
		check_failures++;                                                \
		fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, \
		    #a, va_, vb_);                                               \
	}                                                                        \
} while (0)

#define CHECK_STR(a, b) do {                                                     \
	const char *sa_ = (a), *sb_ = (b);                                       \
	check_count++;                                                           \
	if (strcmp(sa_, sb_) != 0) {                                             \
		check_failures++;                                                \
		fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,  \
		    __LINE__, #a, sa_, sb_);                                     \
	}                                                                        \
} while (0)

#define CHECK_CONTAINS(hay, needle) do {                                         \
	const char *h_ = (hay), *n_ = (needle);                                  \
	check_count++;                                                           \
	if (strstr(h_, n_) == NULL) {                                            \
		check_failures++;                                                \
		fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, \
		    __LINE__, h_, n_);                                           \
	}                                                                        \
} while (0)

static inline int
check_report(const char *name)
{
	if (check_count == 0) {
		fprintf(stderr, "%s: no checks ran\n", name);
		return 1;
	}
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
