/* qthr_cancel: QTHR_OK on a job that has not started (it never runs, every waiter, also
 * one already blocked, gets QTHR_CANCELLED); QTHR_NOT_CANCELLABLE once it started or
 * finished (and the job then completes normally); counters follow. */
#include "testutil.h"

static atomic_long g_ran;

typedef struct {
  qthr_future *f;
  qthr_status st;
  void *res;
} waiter_arg;

static void *waiter(void *p) {
  waiter_arg *w = (waiter_arg *)p;
  w->st = qthr_wait(w->f, -1, &w->res);
  return NULL;
}

static void test_cancel_queued(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  atomic_store(&g_ran, 0);

  qthr_future *a = NULL, *b = NULL, *c = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, &a));
  CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, &b));
  CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, &c));

  /* A thread already blocked waiting on b is woken by the cancel. */
  waiter_arg w = {b, QTHR_PANIC, (void *)(uintptr_t)1};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, waiter, &w) == 0);
  tu_sleep_ms(30);

  CHECK_OK(qthr_cancel(b));
  pthread_join(th, NULL); /* before the gate opens: the waiter did not wait for the worker */
  CHECK_ST(w.st, QTHR_CANCELLED);
  CHECK_ST(qthr_wait(b, 0, NULL), QTHR_CANCELLED);
  CHECK_ST(qthr_wait(b, -1, NULL), QTHR_CANCELLED);
  CHECK_ST(qthr_wait(b, 10 * MS, NULL), QTHR_CANCELLED);
  /* a second cancel of an already-cancelled job does not un-cancel it */
  qthr_status again = qthr_cancel(b);
  CHECK(again == QTHR_OK || again == QTHR_NOT_CANCELLABLE);
  CHECK_ST(qthr_wait(b, 0, NULL), QTHR_CANCELLED);

  tu_gate_open(&gate);
  void *res = NULL;
  CHECK_OK(qthr_wait(a, -1, &res));
  CHECK(res == &g_ran);
  CHECK_OK(qthr_wait(c, -1, &res));
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  CHECK_EQ(atomic_load(&g_ran), 2); /* b never ran */
  CHECK_ST(qthr_wait(b, 0, NULL), QTHR_CANCELLED);

  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.submitted, 4);
  CHECK_EQ(st.completed, 3);
  CHECK_EQ(st.cancelled, 1);

  qthr_future_free(a);
  qthr_future_free(b);
  qthr_future_free(c);
  qthr_future_free(blocker);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

static void test_cancel_running_and_finished(void) {
  tu_gate gate;
  qthr_future *running = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &running);
  /* started: not cancellable, and it still completes with its result */
  CHECK_ST(qthr_cancel(running), QTHR_NOT_CANCELLABLE);
  CHECK_ST(qthr_wait(running, 0, NULL), QTHR_TIMEOUT);
  tu_gate_open(&gate);
  void *res = NULL;
  CHECK_OK(qthr_wait(running, -1, &res));
  CHECK(res == &gate);
  /* finished: not cancellable, result unchanged */
  CHECK_ST(qthr_cancel(running), QTHR_NOT_CANCELLABLE);
  res = NULL;
  CHECK_OK(qthr_wait(running, 0, &res));
  CHECK(res == &gate);
  qthr_future_free(running);

  qthr_future *done = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)(uintptr_t)9, &done));
  CHECK_OK(qthr_wait(done, -1, NULL));
  CHECK_ST(qthr_cancel(done), QTHR_NOT_CANCELLABLE);
  CHECK_OK(qthr_wait(done, -1, &res));
  CHECK_EQ((uintptr_t)res, 9);
  qthr_future_free(done);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

/* Cancel races the worker: each cancel either wins (job never runs) or loses (job ran),
 * never both, never neither. */
#define NRACE 2000
static atomic_int g_ran_flag[NRACE];

static void *job_flag(void *arg) {
  atomic_fetch_add(&g_ran_flag[(intptr_t)arg], 1);
  return arg;
}

static void test_cancel_race(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  static qthr_future *fs[NRACE];
  for (intptr_t i = 0; i < NRACE; i++) {
    atomic_store(&g_ran_flag[i], 0);
    CHECK_OK(qthr_submit(rt, job_flag, (void *)i, &fs[i]));
  }
  int won = 0;
  qthr_status cst[NRACE];
  for (int i = NRACE - 1; i >= 0; i--) cst[i] = qthr_cancel(fs[i]);
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  for (int i = 0; i < NRACE; i++) {
    void *res = NULL;
    qthr_status ws = qthr_wait(fs[i], 0, &res);
    if (cst[i] == QTHR_OK) {
      won++;
      CHECK_ST(ws, QTHR_CANCELLED);
      CHECK_EQ(atomic_load(&g_ran_flag[i]), 0);
    } else {
      CHECK_ST(cst[i], QTHR_NOT_CANCELLABLE);
      CHECK_OK(ws);
      CHECK_EQ((intptr_t)res, i);
      CHECK_EQ(atomic_load(&g_ran_flag[i]), 1);
    }
    qthr_future_free(fs[i]);
  }
  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.cancelled, won);
  CHECK_EQ(st.completed, NRACE - won);
  printf("  %d of %d cancels won the race\n", won, NRACE);
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_cancel_queued);
  RUN(test_cancel_running_and_finished);
  RUN(test_cancel_race);
  return 0;
}
