/* Freeing: qthr_future_free before the job ran (the job still runs), while it runs, after
 * it, and after qthr_free of the runtime; fire-and-forget (out NULL) jobs
 * run; qthr_free drains every queued job (no explicit shutdown needed); NULL is a no-op. */
#include "testutil.h"

static atomic_long g_ran;

static void test_future_free_before_job_ran(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  atomic_store(&g_ran, 0);
  for (int i = 0; i < 100; i++) {
    qthr_future *f = NULL;
    CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, &f));
    CHECK(f != NULL);
    qthr_future_free(f); /* dropped while queued: the job still runs */
  }
  qthr_future_free(blocker); /* dropped while running */
  CHECK_EQ(atomic_load(&g_ran), 0);
  tu_gate_open(&gate);
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  CHECK_EQ(atomic_load(&g_ran), 100);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

static void test_future_free_after_runtime_free(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  qthr_future *done = NULL, *queued[64];
  CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)(uintptr_t)5, &done));
  CHECK_OK(qthr_wait(done, -1, NULL));
  atomic_store(&g_ran, 0);
  for (int i = 0; i < 64; i++) CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, &queued[i]));
  qthr_free(rt); /* the futures outlive their runtime */
  CHECK_EQ(atomic_load(&g_ran), 64);
  /* Memory of the runtime is gone; the futures must still be freeable (run under
   * valgrind/ASan to see a use-after-free here). Scribble over freed memory first. */
  for (int i = 0; i < 32; i++) {
    void *p = malloc(256);
    memset(p, 0xEE, 256);
    free(p);
  }
  qthr_future_free(done);
  for (int i = 0; i < 64; i++) qthr_future_free(queued[i]);
}

static void test_fire_and_forget(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  atomic_store(&g_ran, 0);
  for (int i = 0; i < 10000; i++) CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, NULL));
  /* a later job on the same FIFO sees every earlier one done */
  void *res = NULL;
  CHECK_OK(qthr_call(rt, tu_job_identity, NULL, &res));
  CHECK_EQ(atomic_load(&g_ran), 10000);
  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.submitted, 10001);
  CHECK_EQ(st.completed, 10001);
  qthr_free(rt);
}

#define NT 4
#define PER 5000

static void *flood(void *p) {
  qthr_runtime *rt = (qthr_runtime *)p;
  for (int i = 0; i < PER; i++) {
    if (i % 2) {
      CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, NULL));
    } else {
      qthr_future *f = NULL;
      CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, &f));
      qthr_future_free(f);
    }
  }
  return NULL;
}

static void *job_slow(void *arg) {
  tu_sleep_ms(30);
  return arg;
}

static void test_qthr_free_drains(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 1u << 15; /* room for everything */
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  atomic_store(&g_ran, 0);
  CHECK_OK(qthr_submit(rt, job_slow, NULL, NULL)); /* keeps the rest queued */
  pthread_t th[NT];
  for (int i = 0; i < NT; i++) CHECK(pthread_create(&th[i], NULL, flood, rt) == 0);
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  qthr_free(rt); /* no shutdown call: free drains */
  CHECK_EQ(atomic_load(&g_ran), NT * PER);
}

static void test_null_is_noop(void) {
  qthr_free(NULL);
  qthr_future_free(NULL);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_future_free_before_job_ran);
  RUN(test_future_free_after_runtime_free);
  RUN(test_fire_and_forget);
  RUN(test_qthr_free_drains);
  RUN(test_null_is_noop);
  return 0;
}
