/* Re-entrancy never deadlocks: on the worker, qthr_call runs the job inline (before jobs
 * already queued, nested too); qthr_wait on a still-queued future of the same runtime runs
 * queued jobs inline until that future is done (each job still runs exactly once, in FIFO
 * order); waiting for the running job itself => QTHR_WOULD_DEADLOCK (header); qthr_shutdown
 * returns QTHR_WOULD_DEADLOCK (and the runtime keeps working);
 * qthr_on_worker tells runtimes apart; calling another runtime from a worker works. */
#include "testutil.h"

static int g_log[64];
static int g_log_len; /* worker-only */
static qthr_runtime *g_rt;

static void *job_log(void *arg) {
  CHECK(qthr_on_worker(g_rt) == 1);
  CHECK(g_log_len < 64);
  g_log[g_log_len++] = (int)(intptr_t)arg;
  return (void *)((intptr_t)arg + 1000);
}

static void *job_reset(void *arg) {
  (void)arg;
  g_log_len = 0;
  return NULL;
}

static void *job_nested(void *arg) {
  (void)arg;
  job_log((void *)5);
  void *res = NULL;
  CHECK_OK(qthr_call(g_rt, job_log, (void *)6, &res));
  CHECK_EQ((intptr_t)res, 1006);
  return (void *)55;
}

static tu_gate g_gate;

static void *job_outer_call(void *arg) {
  (void)arg;
  tu_gate_wait(&g_gate); /* so that job 3 is queued behind us */
  job_log((void *)1);
  void *res = NULL;
  CHECK_OK(qthr_call(g_rt, job_log, (void *)2, &res)); /* inline: before job 3 */
  CHECK_EQ((intptr_t)res, 1002);
  CHECK_OK(qthr_call(g_rt, job_nested, NULL, &res));
  CHECK_EQ((intptr_t)res, 55);
  return (void *)7;
}

static void *job_recurse(void *arg) {
  intptr_t n = (intptr_t)arg;
  if (n == 0) return (void *)0;
  void *res = NULL;
  CHECK_OK(qthr_call(g_rt, job_recurse, (void *)(n - 1), &res));
  return (void *)((intptr_t)res + 1);
}

static void test_call_inline(void) {
  CHECK_OK(qthr_init(NULL, &g_rt));
  CHECK_OK(qthr_call(g_rt, job_reset, NULL, NULL));
  tu_gate_init(&g_gate);
  qthr_future *outer = NULL, *third = NULL;
  CHECK_OK(qthr_submit(g_rt, job_outer_call, NULL, &outer));
  CHECK_OK(qthr_submit(g_rt, job_log, (void *)3, &third));
  tu_gate_open(&g_gate);
  void *res = NULL;
  CHECK_OK(qthr_wait(outer, -1, &res));
  CHECK_EQ((intptr_t)res, 7);
  CHECK_OK(qthr_wait(third, -1, NULL));
  int expect[] = {1, 2, 5, 6, 3};
  CHECK_EQ(g_log_len, 5);
  for (int i = 0; i < 5; i++) CHECK_MSG(g_log[i] == expect[i], "log[%d] = %d, expected %d", i, g_log[i], expect[i]);
  qthr_future_free(outer);
  qthr_future_free(third);

  /* deep nesting */
  CHECK_OK(qthr_call(g_rt, job_recurse, (void *)50, &res));
  CHECK_EQ((intptr_t)res, 50);
  qthr_free(g_rt);
  tu_gate_destroy(&g_gate);
}

static qthr_future *_Atomic g_wait_for;

static void *job_waiter(void *arg) {
  tu_gate_wait(&g_gate);
  job_log((void *)10);
  qthr_future *f = atomic_load(&g_wait_for);
  void *res = NULL;
  CHECK_OK(qthr_wait(f, (int64_t)(intptr_t)arg, &res)); /* runs queued jobs inline */
  CHECK_EQ((intptr_t)res, 1000 + 12);
  CHECK_OK(qthr_wait(f, 0, &res)); /* done now, same result */
  CHECK_EQ((intptr_t)res, 1012);
  job_log((void *)19);
  return NULL;
}

static void wait_inline_case(int64_t timeout) {
  CHECK_OK(qthr_init(NULL, &g_rt));
  CHECK_OK(qthr_call(g_rt, job_reset, NULL, NULL));
  tu_gate_init(&g_gate);
  qthr_future *w = NULL, *b = NULL, *c = NULL, *d = NULL;
  CHECK_OK(qthr_submit(g_rt, job_waiter, (void *)(intptr_t)timeout, &w));
  CHECK_OK(qthr_submit(g_rt, job_log, (void *)11, &b));
  CHECK_OK(qthr_submit(g_rt, job_log, (void *)12, &c)); /* the waiter waits for this one */
  CHECK_OK(qthr_submit(g_rt, job_log, (void *)13, &d));
  atomic_store(&g_wait_for, c);
  tu_gate_open(&g_gate);
  CHECK_OK(qthr_wait(w, -1, NULL));
  void *res = NULL;
  CHECK_OK(qthr_wait(b, -1, &res));
  CHECK_EQ((intptr_t)res, 1011);
  CHECK_OK(qthr_wait(c, -1, &res));
  CHECK_EQ((intptr_t)res, 1012);
  CHECK_OK(qthr_wait(d, -1, &res));
  CHECK_EQ((intptr_t)res, 1013);
  CHECK_OK(qthr_shutdown(g_rt, QTHR_DRAIN));
  /* 11 and 12 ran inline (in FIFO order) inside the waiter, 13 after it; each once. */
  int expect[] = {10, 11, 12, 19, 13};
  CHECK_EQ(g_log_len, 5);
  for (int i = 0; i < 5; i++) CHECK_MSG(g_log[i] == expect[i], "log[%d] = %d, expected %d", i, g_log[i], expect[i]);
  qthr_future_free(w);
  qthr_future_free(b);
  qthr_future_free(c);
  qthr_future_free(d);
  qthr_free(g_rt);
  tu_gate_destroy(&g_gate);
}

static void test_wait_inline_forever(void) { wait_inline_case(-1); }
static void test_wait_inline_timeout(void) { wait_inline_case(5000 * MS); }

static qthr_future *_Atomic g_self;
static tu_gate g_self_gate;

static void *job_wait_self(void *arg) {
  (void)arg;
  tu_gate_wait(&g_self_gate);
  void *res = NULL;
  /* waiting for the job that is running (itself) can never finish */
  CHECK_ST(qthr_wait(atomic_load(&g_self), -1, &res), QTHR_WOULD_DEADLOCK);
  return (void *)8;
}

static void test_wait_for_itself(void) {
  CHECK_OK(qthr_init(NULL, &g_rt));
  tu_gate_init(&g_self_gate);
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(g_rt, job_wait_self, NULL, &f));
  atomic_store(&g_self, f);
  tu_gate_open(&g_self_gate);
  void *res = NULL;
  CHECK_OK(qthr_wait(f, -1, &res));
  CHECK_EQ((intptr_t)res, 8);
  qthr_future_free(f);
  qthr_free(g_rt);
  tu_gate_destroy(&g_self_gate);
}

static void *job_shutdown_self(void *arg) {
  (void)arg;
  CHECK_ST(qthr_shutdown(g_rt, QTHR_DRAIN), QTHR_WOULD_DEADLOCK);
  CHECK_ST(qthr_shutdown(g_rt, QTHR_CANCEL), QTHR_WOULD_DEADLOCK);
  return (void *)1;
}

static void test_shutdown_from_worker(void) {
  CHECK_OK(qthr_init(NULL, &g_rt));
  CHECK_OK(qthr_call(g_rt, job_reset, NULL, NULL));
  void *res = NULL;
  CHECK_OK(qthr_call(g_rt, job_shutdown_self, NULL, &res));
  CHECK_EQ((intptr_t)res, 1);
  /* not shut down: it keeps working */
  CHECK_OK(qthr_call(g_rt, job_log, (void *)4, &res));
  CHECK_EQ((intptr_t)res, 1004);
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(g_rt, job_shutdown_self, NULL, &f));
  CHECK_OK(qthr_wait(f, -1, NULL));
  qthr_future_free(f);
  CHECK_OK(qthr_shutdown(g_rt, QTHR_DRAIN));
  qthr_free(g_rt);
}

static qthr_runtime *g_other;

static void *job_other_side(void *arg) {
  (void)arg;
  return (void *)(intptr_t)(qthr_on_worker(g_other) * 10 + qthr_on_worker(g_rt));
}

static void *job_cross(void *arg) {
  (void)arg;
  CHECK_EQ(qthr_on_worker(g_rt), 1);
  CHECK_EQ(qthr_on_worker(g_other), 0);
  void *res = NULL;
  CHECK_OK(qthr_call(g_other, job_other_side, NULL, &res)); /* another worker: a real hop */
  CHECK_EQ((intptr_t)res, 10);
  return (void *)pthread_self();
}

static void test_two_runtimes(void) {
  CHECK_OK(qthr_init(NULL, &g_rt));
  CHECK_OK(qthr_init(NULL, &g_other));
  void *res = NULL;
  CHECK_OK(qthr_call(g_rt, job_cross, NULL, &res));
  CHECK_OK(qthr_call(g_other, job_other_side, NULL, &res));
  CHECK_EQ((intptr_t)res, 10);
  CHECK_EQ(qthr_on_worker(g_rt), 0);
  CHECK_EQ(qthr_on_worker(NULL), 0);
  qthr_free(g_other);
  qthr_free(g_rt);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_call_inline);
  RUN(test_wait_inline_forever);
  RUN(test_wait_inline_timeout);
  RUN(test_wait_for_itself);
  RUN(test_shutdown_from_worker);
  RUN(test_two_runtimes);
  return 0;
}
