/* "qthr_call is submit + wait with no heap allocation on its path": this executable
 * interposes malloc & co. (libqthr, like any shared library, calls the process's malloc)
 * and counts every allocation, on any thread, during 20k warm qthr_calls (fast ones the
 * caller spins for, slow ones it parks for, some after the worker went idle): zero allowed. */
#include "testutil.h"

#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_int g_counting;
static atomic_long g_allocs;

static inline void note(void) {
  if (atomic_load_explicit(&g_counting, memory_order_relaxed))
    atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
}

void *malloc(size_t n) {
  note();
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  note();
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  note();
  return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
void *memalign(size_t al, size_t n) {
  note();
  return __libc_memalign(al, n);
}
void *aligned_alloc(size_t al, size_t n) {
  note();
  return __libc_memalign(al, n);
}
int posix_memalign(void **out, size_t al, size_t n) {
  note();
  void *p = __libc_memalign(al, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

static void *job_add(void *arg) { return (void *)((intptr_t)arg + 1); }

static void *job_slow(void *arg) {
  tu_sleep_ms(3); /* long enough that the caller stops spinning and parks */
  return arg;
}

static qthr_runtime *g_rt;

static void *job_nested_call(void *arg) {
  void *res = NULL;
  CHECK_OK(qthr_call(g_rt, job_add, arg, &res)); /* inline on the worker */
  return res;
}

static void test_call_does_not_allocate(void) {
  /* the interposer works: a malloc through it is counted */
  atomic_store(&g_counting, 1);
  void *volatile probe = malloc(16);
  atomic_store(&g_counting, 0);
  free(probe);
  CHECK_MSG(atomic_load(&g_allocs) == 1, "malloc interposition does not work here");
  atomic_store(&g_allocs, 0);

  CHECK_OK(qthr_init(NULL, &g_rt));
  void *res = NULL;
  /* Warm up, through every path (spinning, parked caller, parked idle worker), so that
   * what is made once per thread (thread-locals, e.g. the parker's) is made now. */
  for (intptr_t i = 0; i < 2000; i++) {
    CHECK_OK(qthr_call(g_rt, job_add, (void *)i, &res));
    CHECK_OK(qthr_call(g_rt, job_nested_call, (void *)i, &res));
    if (i % 500 == 0) {
      CHECK_OK(qthr_call(g_rt, job_slow, NULL, &res));
      tu_sleep_ms(3); /* the worker goes idle */
    }
  }
  atomic_store(&g_counting, 1);
  for (intptr_t i = 0; i < 10000; i++) {
    if (i % 1000 == 0) { /* steady state includes parking on both sides */
      CHECK_OK(qthr_call(g_rt, job_slow, NULL, &res));
      tu_sleep_ms(3);
    }
    CHECK_OK(qthr_call(g_rt, job_add, (void *)i, &res));
    if ((intptr_t)res != i + 1) {
      atomic_store(&g_counting, 0);
      TU_FAIL("wrong result");
    }
    CHECK_OK(qthr_call(g_rt, job_nested_call, (void *)i, &res));
  }
  atomic_store(&g_counting, 0);
  long n = atomic_load(&g_allocs);
  printf("  %ld heap allocations during 20000 qthr_calls\n", n);
  CHECK_MSG(n == 0, "qthr_call allocated %ld times in 20000 calls", n);
  qthr_free(g_rt);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_call_does_not_allocate);
  return 0;
}
