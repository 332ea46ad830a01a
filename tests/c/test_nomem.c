/* Allocation failure returns QTHR_NO_MEMORY with nothing queued or started; it never aborts
 * the process. Memory is limited with RLIMIT_AS (skipped under valgrind and the sanitizers,
 * which reserve huge address ranges of their own). */
#include "testutil.h"

#include <sys/resource.h>

static int checker_present(void) {
  const char *pre = getenv("LD_PRELOAD");
  if (pre && (strstr(pre, "vgpreload") || strstr(pre, "valgrind"))) return 1;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return 1;
#else
  return getenv("QTHR_UNDER_CHECKER") != NULL;
#endif
}

/* The address space this process uses now, in bytes (VmSize). */
static size_t vm_size(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t kb = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
  fclose(f);
  return kb * 1024;
}

static void *noop(void *arg) { return arg; }

static qthr_runtime *g_big;
static void *submit_to_big_from_a_worker(void *arg) {
  (void)arg;
  /* From another runtime's worker: the calls lane, whose ring is made on first use. */
  return (void *)(intptr_t)qthr_submit(g_big, noop, NULL, NULL);
}

static void test_rings_that_do_not_fit(void) {
  if (checker_present()) {
    printf("  skipped under a memory checker\n");
    return;
  }
  /* Start what needs memory later (threads, stacks) before the limit. */
  qthr_runtime *small = NULL;
  CHECK_OK(qthr_init(NULL, &small));
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 1u << 22; /* a 64 MiB ring per lane */
  CHECK_OK(qthr_init(&cfg, &g_big));
  struct rlimit old, lim;
  CHECK(getrlimit(RLIMIT_AS, &old) == 0);
  lim = old;
  lim.rlim_cur = vm_size() + (48u << 20); /* 48 MiB more: no further 64 MiB ring */
  CHECK(setrlimit(RLIMIT_AS, &lim) == 0);

  qthr_config huge;
  qthr_config_init(&huge);
  huge.queue_capacity = 1u << 24; /* 256 MiB */
  qthr_runtime *rt = (qthr_runtime *)(uintptr_t)1;
  CHECK_ST(qthr_init(&huge, &rt), QTHR_NO_MEMORY);
  CHECK(rt == (qthr_runtime *)(uintptr_t)1);

  /* The urgent lane's ring is made by its first urgent submit. */
  qthr_submit_opts urgent;
  memset(&urgent, 0, sizeof urgent);
  urgent.size = sizeof urgent;
  urgent.priority = 1;
  qthr_future *f = (qthr_future *)(uintptr_t)1;
  CHECK_ST(qthr_submit_ex(g_big, noop, NULL, &urgent, &f), QTHR_NO_MEMORY);
  CHECK(f == (qthr_future *)(uintptr_t)1);
  /* So is the calls lane's, by the first job another runtime's worker submits. */
  void *r = NULL;
  CHECK_OK(qthr_call(small, submit_to_big_from_a_worker, NULL, &r));
  CHECK_ST((qthr_status)(intptr_t)r, QTHR_NO_MEMORY);
  /* Nothing was queued; everything else still works. */
  qthr_stats st = tu_stats(g_big);
  CHECK_EQ(st.submitted, 0);
  CHECK_OK(qthr_call(g_big, noop, NULL, NULL));
  CHECK_OK(qthr_submit(g_big, noop, NULL, &f));
  CHECK_OK(qthr_wait(f, -1, NULL));
  qthr_future_free(f);

  CHECK(setrlimit(RLIMIT_AS, &old) == 0);
  CHECK_OK(qthr_submit_ex(g_big, noop, NULL, &urgent, NULL)); /* fits now */
  qthr_free(g_big);
  qthr_free(small);
  CHECK_OK(qthr_init(&huge, &rt));
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(60);
  RUN(test_rings_that_do_not_fit);
  return 0;
}
