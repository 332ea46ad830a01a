/* Worker lifecycle: on_start before any job and before qthr_init returns, on the worker;
 * on_stop after the last job, on the worker; on_start failure => QTHR_START_FAILED with
 * *out untouched and the thread gone; the worker joined by shutdown; thread_name visible
 * and truncated to the OS limit; CPU pinning. */
#include "testutil.h"

#include <sched.h>

typedef struct {
  pthread_t start_thread, stop_thread;
  atomic_int start_done, stop_calls, start_calls;
  atomic_long jobs_run;
  long jobs_at_stop;
  int fail_with;
  unsigned start_sleep_ms;
} hooks;

static int on_start(void *ctx) {
  hooks *h = (hooks *)ctx;
  atomic_fetch_add(&h->start_calls, 1);
  h->start_thread = pthread_self();
  if (h->start_sleep_ms) tu_sleep_ms(h->start_sleep_ms);
  atomic_store(&h->start_done, 1);
  return h->fail_with;
}

static void on_stop(void *ctx) {
  hooks *h = (hooks *)ctx;
  h->stop_thread = pthread_self();
  h->jobs_at_stop = atomic_load(&h->jobs_run);
  atomic_fetch_add(&h->stop_calls, 1);
}

static hooks *g_hooks;

static void *job_check_started(void *arg) {
  CHECK_MSG(atomic_load(&g_hooks->start_done), "a job ran before on_start finished");
  CHECK_MSG(pthread_equal(pthread_self(), g_hooks->start_thread),
            "job and on_start ran on different threads");
  CHECK_MSG(atomic_load(&g_hooks->stop_calls) == 0, "a job ran after on_stop");
  tu_sleep_ms(arg ? 1 : 0);
  atomic_fetch_add(&g_hooks->jobs_run, 1);
  return arg;
}

static void test_hooks_order_and_thread(void) {
  static hooks h;
  memset(&h, 0, sizeof h);
  h.start_sleep_ms = 100; /* qthr_init must wait for it */
  g_hooks = &h;
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_start = on_start;
  cfg.on_stop = on_stop;
  cfg.hook_ctx = &h;
  qthr_runtime *rt = NULL;
  int threads_before = tu_thread_count();
  uint64_t t0 = tu_now_ns();
  CHECK_OK(qthr_init(&cfg, &rt));
  CHECK_MSG(atomic_load(&h.start_done), "qthr_init returned before on_start finished");
  CHECK(tu_now_ns() - t0 >= 90 * MS);
  CHECK_EQ(atomic_load(&h.start_calls), 1);
  CHECK(!pthread_equal(h.start_thread, pthread_self()));
  CHECK_EQ(tu_thread_count(), threads_before + 1);

  /* Jobs queued at once, some slow, so that several are still queued at shutdown. */
  for (int i = 0; i < 200; i++)
    CHECK_OK(qthr_submit(rt, job_check_started, (void *)(intptr_t)(i % 20 == 0), NULL));
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  /* Shutdown returned: on_stop ran once, on the worker, after all 200 jobs; worker joined. */
  CHECK_EQ(atomic_load(&h.stop_calls), 1);
  CHECK(pthread_equal(h.stop_thread, h.start_thread));
  CHECK_EQ(h.jobs_at_stop, 200);
  CHECK_EQ(atomic_load(&h.jobs_run), 200);
  CHECK_MSG(tu_thread_count_settles(threads_before),
            "worker thread still exists after qthr_shutdown returned");
  qthr_free(rt);
  CHECK_EQ(atomic_load(&h.stop_calls), 1); /* free after shutdown: no second on_stop */
}

static void test_on_stop_via_free(void) {
  static hooks h;
  memset(&h, 0, sizeof h);
  g_hooks = &h;
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_start = on_start;
  cfg.on_stop = on_stop;
  cfg.hook_ctx = &h;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  for (int i = 0; i < 50; i++) CHECK_OK(qthr_submit(rt, job_check_started, NULL, NULL));
  qthr_free(rt); /* drains, then on_stop */
  CHECK_EQ(atomic_load(&h.stop_calls), 1);
  CHECK_EQ(h.jobs_at_stop, 50);
  CHECK(pthread_equal(h.stop_thread, h.start_thread));
}

static void test_start_failure(void) {
  static hooks h;
  memset(&h, 0, sizeof h);
  h.fail_with = 7;
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_start = on_start;
  cfg.on_stop = on_stop;
  cfg.hook_ctx = &h;
  int threads_before = tu_thread_count();
  qthr_runtime *sentinel = (qthr_runtime *)(uintptr_t)0x1234;
  qthr_runtime *rt = sentinel;
  CHECK_ST(qthr_init(&cfg, &rt), QTHR_START_FAILED);
  CHECK_MSG(rt == sentinel, "*out was written although qthr_init failed");
  CHECK_EQ(atomic_load(&h.start_calls), 1);
  /* "the thread is joined": it is gone when qthr_init returns. */
  CHECK_MSG(tu_thread_count_settles(threads_before), "the worker was not joined");
  /* -1 is a failure too (any non-zero). */
  h.fail_with = -1;
  CHECK_ST(qthr_init(&cfg, &rt), QTHR_START_FAILED);
  CHECK(rt == sentinel);
  /* And a working runtime can still be made afterwards. */
  h.fail_with = 0;
  CHECK_OK(qthr_init(&cfg, &rt));
  CHECK(rt != sentinel);
  qthr_free(rt);
}

static void *job_thread_name(void *arg) {
  char *buf = (char *)arg;
  CHECK(pthread_getname_np(pthread_self(), buf, 64) == 0);
  return arg;
}

static void name_case(const char *set, const char *expect) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  if (set) cfg.thread_name = set;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  char buf[64] = {0};
  CHECK_OK(qthr_call(rt, job_thread_name, buf, NULL));
  CHECK_MSG(strcmp(buf, expect) == 0, "thread name '%s', expected '%s'", buf, expect);
  qthr_free(rt);
}

static void test_thread_name(void) {
  name_case(NULL, "qthr");
  name_case("engine", "engine");
  /* Linux allows 15 bytes + NUL: a longer name is truncated, not refused. */
  name_case("q-engine-worker-thread-0123456789", "q-engine-worker");
}

static void *job_cpu(void *arg) {
  (void)arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
  int n = CPU_COUNT(&set);
  int cpu = sched_getcpu();
  return (void *)(intptr_t)(n * 10000 + cpu);
}

static void test_cpu_pinning(void) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  int target = -1;
  for (int c = CPU_SETSIZE - 1; c >= 0; c--)
    if (CPU_ISSET(c, &allowed)) {
      target = c;
      break;
    }
  if (target < 0) {
    printf("  SKIP: no CPU in this process's affinity mask\n");
    return;
  }
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.cpu = target;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  for (int i = 0; i < 20; i++) {
    void *res = NULL;
    CHECK_OK(qthr_call(rt, job_cpu, NULL, &res));
    intptr_t r = (intptr_t)res;
    CHECK_MSG(r / 10000 == 1, "worker may run on %ld CPUs, expected 1", (long)(r / 10000));
    CHECK_MSG(r % 10000 == target, "worker ran on CPU %ld, expected %d", (long)(r % 10000), target);
  }
  qthr_free(rt);
  /* Unpinned (the default): the worker keeps the whole mask of the process. */
  qthr_config_init(&cfg);
  CHECK_OK(qthr_init(&cfg, &rt));
  void *res = NULL;
  CHECK_OK(qthr_call(rt, job_cpu, NULL, &res));
  CHECK_EQ((intptr_t)res / 10000, CPU_COUNT(&allowed));
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_hooks_order_and_thread);
  RUN(test_on_stop_via_free);
  RUN(test_start_failure);
  RUN(test_thread_name);
  RUN(test_cpu_pinning);
  return 0;
}
