/* fork(): in the child, every call on a runtime made before the fork returns QTHR_FORKED at
 * once (the worker is not there), qthr_free only releases memory, and a new runtime can be
 * made; the parent is unaffected. The fork happens while the worker is busy and another
 * thread is submitting, so that internal locks may be held at the fork. */
#include "testutil.h"

#include <sys/wait.h>

static atomic_int g_stop;
static atomic_long g_ran;

static void *submitter(void *p) {
  qthr_runtime *rt = (qthr_runtime *)p;
  while (!atomic_load(&g_stop)) {
    qthr_status st = qthr_submit(rt, tu_job_count, &g_ran, NULL);
    CHECK(st == QTHR_OK);
    usleep(50);
  }
  return NULL;
}

static void cb_never(void *ctx, qthr_status st, void *res) {
  (void)st;
  (void)res;
  atomic_fetch_add((atomic_int *)ctx, 1);
}

#define AT_ONCE(expr)                                                                   \
  do {                                                                                  \
    uint64_t t0_ = tu_now_ns();                                                         \
    CHECK_ST((expr), QTHR_FORKED);                                                      \
    CHECK_MSG(tu_now_ns() - t0_ < 500 * MS, "%s did not return at once", #expr);        \
  } while (0)

static void child(qthr_runtime *rt, qthr_future *pending, qthr_future *done) {
  tu_watchdog(10); /* alarms are not inherited */
  AT_ONCE(qthr_submit(rt, tu_job_count, &g_ran, NULL));
  qthr_future *f = NULL;
  AT_ONCE(qthr_submit(rt, tu_job_count, &g_ran, &f));
  void *res = NULL;
  AT_ONCE(qthr_call(rt, tu_job_count, &g_ran, &res));
  qthr_fn fns[2] = {tu_job_count, tu_job_count};
  void *args[2] = {&g_ran, &g_ran};
  AT_ONCE(qthr_submit_batch(rt, 2, fns, args, NULL));
  AT_ONCE(qthr_wait(pending, -1, &res)); /* would hang for ever without the rule */
  AT_ONCE(qthr_wait(pending, 100 * MS, &res));
  AT_ONCE(qthr_cancel(pending));
  atomic_int cb_calls;
  atomic_init(&cb_calls, 0);
  AT_ONCE(qthr_future_then(pending, cb_never, &cb_calls));
  AT_ONCE(qthr_shutdown(rt, QTHR_DRAIN));
  AT_ONCE(qthr_shutdown(rt, QTHR_CANCEL));
  qthr_stats st;
  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  AT_ONCE(qthr_get_stats(rt, &st));
  CHECK_EQ(qthr_on_worker(rt), 0);
  /* a future already resolved before the fork: either its result or QTHR_FORKED */
  qthr_status ds = qthr_wait(done, -1, &res);
  CHECK(ds == QTHR_OK || ds == QTHR_FORKED);
  if (ds == QTHR_OK) CHECK_EQ((uintptr_t)res, 99);

  /* A new runtime in the child works. */
  qthr_runtime *rt2 = NULL;
  CHECK_OK(qthr_init(NULL, &rt2));
  atomic_long n;
  atomic_init(&n, 0);
  CHECK_OK(qthr_call(rt2, tu_job_count, &n, &res));
  CHECK_EQ(atomic_load(&n), 1);
  qthr_free(rt2);

  /* qthr_free only releases memory: returns at once, runs no job, no on_stop. */
  uint64_t t0 = tu_now_ns();
  qthr_future_free(pending);
  qthr_future_free(done);
  qthr_free(rt);
  CHECK(tu_now_ns() - t0 < 500 * MS);
  CHECK_EQ(atomic_load(&cb_calls), 0);
  _exit(0);
}

static atomic_int g_parent_stop_calls;
static pid_t g_parent_pid;
static void on_stop(void *ctx) {
  (void)ctx;
  /* must never run in the child */
  if (getpid() != g_parent_pid) _exit(42);
  atomic_fetch_add(&g_parent_stop_calls, 1);
}

static void *job_ret99(void *arg) {
  (void)arg;
  return (void *)(uintptr_t)99;
}

static void test_fork_child_gets_forked(void) {
  g_parent_pid = getpid();
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_stop = on_stop;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  qthr_future *done = NULL;
  CHECK_OK(qthr_submit(rt, job_ret99, NULL, &done));
  CHECK_OK(qthr_wait(done, -1, NULL));
  tu_gate gate;
  tu_gate_init(&gate);
  qthr_future *running = NULL, *pending = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_gate, &gate, &running));
  CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)(uintptr_t)5, &pending));
  atomic_store(&g_stop, 0);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, submitter, rt) == 0);
  tu_sleep_ms(20);

  for (int round = 0; round < 3; round++) {
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) child(rt, pending, done);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)", status);
  }

  /* The parent is unaffected. */
  tu_gate_open(&gate);
  atomic_store(&g_stop, 1);
  pthread_join(th, NULL);
  void *res = NULL;
  CHECK_OK(qthr_wait(pending, -1, &res));
  CHECK_EQ((uintptr_t)res, 5);
  CHECK_OK(qthr_wait(running, -1, NULL));
  long before = atomic_load(&g_ran);
  CHECK_OK(qthr_call(rt, tu_job_count, &g_ran, &res));
  CHECK(atomic_load(&g_ran) > before);
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  CHECK_EQ(atomic_load(&g_parent_stop_calls), 1);
  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.submitted, st.completed);
  CHECK_EQ(st.completed, (uint64_t)atomic_load(&g_ran) + 3);
  qthr_future_free(done);
  qthr_future_free(running);
  qthr_future_free(pending);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_fork_child_gets_forked);
  return 0;
}
