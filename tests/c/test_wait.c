/* qthr_wait: 0 polls, a positive timeout times out after about that long and leaves the
 * future pending, a negative one waits for ever; repeated waits and many concurrent
 * waiters all get the same result; result may be NULL; a waiter and an idle worker sleep
 * instead of burning a CPU. */
#include "testutil.h"

typedef struct {
  tu_gate *gate;
  unsigned after_ms;
} opener_arg;

static void *opener(void *p) {
  opener_arg *o = (opener_arg *)p;
  tu_sleep_ms(o->after_ms);
  tu_gate_open(o->gate);
  return NULL;
}

static void test_poll_positive_negative(void) {
  tu_gate gate;
  qthr_future *f = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &f);

  /* 0 = poll: returns at once. */
  void *res = (void *)(uintptr_t)0xdead;
  uint64_t t0 = tu_now_ns();
  CHECK_ST(qthr_wait(f, 0, &res), QTHR_TIMEOUT);
  CHECK_MSG(tu_now_ns() - t0 < 20 * MS, "poll took %.1f ms", (double)(tu_now_ns() - t0) / 1e6);
  CHECK(res == (void *)(uintptr_t)0xdead); /* untouched while pending */

  /* positive: waits about that long, then TIMEOUT; the future stays pending. */
  t0 = tu_now_ns();
  CHECK_ST(qthr_wait(f, 60 * MS, &res), QTHR_TIMEOUT);
  uint64_t took = tu_now_ns() - t0;
  CHECK_MSG(took >= 59 * MS && took < 1000 * MS, "60 ms wait took %.1f ms", (double)took / 1e6);
  CHECK_ST(qthr_wait(f, 0, NULL), QTHR_TIMEOUT);
  CHECK_ST(qthr_wait(f, 1, NULL), QTHR_TIMEOUT); /* 1 ns is not "forever" */

  /* negative: for ever, until the job finishes (the gate opens 80 ms from now). */
  opener_arg o = {&gate, 80};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, opener, &o) == 0);
  t0 = tu_now_ns();
  res = NULL;
  CHECK_OK(qthr_wait(f, -1, &res));
  CHECK(res == &gate);
  CHECK(tu_now_ns() - t0 >= 70 * MS);
  pthread_join(th, NULL);

  /* Again and again: the same result, with any timeout, and with result NULL. */
  for (int i = 0; i < 5; i++) {
    res = NULL;
    CHECK_OK(qthr_wait(f, 0, &res));
    CHECK(res == &gate);
    res = NULL;
    CHECK_OK(qthr_wait(f, -1, &res));
    CHECK(res == &gate);
    CHECK_OK(qthr_wait(f, 5 * MS, NULL));
  }
  qthr_future_free(f);

  /* A large positive timeout is a real wait, not an overflow into "already expired". */
  qthr_future *g = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)(uintptr_t)7, &g));
  res = NULL;
  CHECK_OK(qthr_wait(g, INT64_MAX, &res));
  CHECK_EQ((uintptr_t)res, 7);
  qthr_future_free(g);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

#define NWAITERS 16

typedef struct {
  qthr_future *f;
  int64_t timeout;
  qthr_status st;
  void *res;
} waiter_arg;

static void *waiter(void *p) {
  waiter_arg *w = (waiter_arg *)p;
  w->st = qthr_wait(w->f, w->timeout, &w->res);
  return NULL;
}

static void test_many_concurrent_waiters(void) {
  tu_gate gate;
  qthr_future *f = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &f);
  pthread_t th[NWAITERS];
  waiter_arg w[NWAITERS];
  for (int i = 0; i < NWAITERS; i++) {
    /* half wait for ever, half with a long timeout */
    w[i] = (waiter_arg){f, (i % 2) ? -1 : 10000 * MS, QTHR_PANIC, NULL};
    CHECK(pthread_create(&th[i], NULL, waiter, &w[i]) == 0);
  }
  tu_sleep_ms(50);
  tu_gate_open(&gate);
  for (int i = 0; i < NWAITERS; i++) {
    pthread_join(th[i], NULL);
    CHECK_OK(w[i].st);
    CHECK(w[i].res == &gate);
  }
  /* And concurrent waiters on an already-finished future. */
  for (int i = 0; i < NWAITERS; i++) {
    w[i] = (waiter_arg){f, 0, QTHR_PANIC, NULL};
    CHECK(pthread_create(&th[i], NULL, waiter, &w[i]) == 0);
  }
  for (int i = 0; i < NWAITERS; i++) {
    pthread_join(th[i], NULL);
    CHECK_OK(w[i].st);
    CHECK(w[i].res == &gate);
  }
  qthr_future_free(f);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

static void test_waiters_and_idle_worker_sleep(void) {
  tu_gate gate;
  qthr_future *f = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &f);
  /* A caller waiting 300 ms for a long job: its own CPU time stays small. */
  uint64_t cpu0 = tu_thread_cpu_ns();
  CHECK_ST(qthr_wait(f, 300 * MS, NULL), QTHR_TIMEOUT);
  uint64_t cpu = tu_thread_cpu_ns() - cpu0;
  CHECK_MSG(cpu < 60 * MS, "a waiter burnt %.1f ms of CPU in a 300 ms wait", (double)cpu / 1e6);
  tu_gate_open(&gate);
  CHECK_OK(qthr_wait(f, -1, NULL));
  qthr_future_free(f);

  /* An idle worker (and everything else of the process) sleeps. */
  tu_sleep_ms(20); /* let any post-job spinning end */
  cpu0 = tu_process_cpu_ns();
  tu_sleep_ms(300);
  cpu = tu_process_cpu_ns() - cpu0;
  CHECK_MSG(cpu < 60 * MS, "the process burnt %.1f ms of CPU in 300 ms idle", (double)cpu / 1e6);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_poll_positive_negative);
  RUN(test_many_concurrent_waiters);
  RUN(test_waiters_and_idle_worker_sleep);
  return 0;
}
