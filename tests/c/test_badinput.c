/* Bad input never crashes and never half-works: NULL where a pointer is required, a wrong
 * cfg->size, queue_capacity 0, an unknown shutdown mode => QTHR_INVALID_ARGUMENT, and
 * nothing was queued or created. NULL is a no-op where the contract says so. */
#include "testutil.h"

static atomic_int g_started;
static int on_start_count(void *ctx) {
  (void)ctx;
  atomic_fetch_add(&g_started, 1);
  return 0;
}

static void bad_cfg(qthr_config *cfg, const char *what) {
  qthr_runtime *sentinel = (qthr_runtime *)(uintptr_t)0x4321, *rt = sentinel;
  int threads = tu_thread_count();
  qthr_status st = qthr_init(cfg, &rt);
  CHECK_MSG(st == QTHR_INVALID_ARGUMENT, "%s: qthr_init returned %s", what, qthr_status_str(st));
  CHECK_MSG(rt == sentinel, "%s: *out written", what);
  CHECK_EQ(atomic_load(&g_started), 0); /* no worker was started */
  CHECK_EQ(tu_thread_count(), threads);
}

static void test_bad_config(void) {
  qthr_config cfg;
  atomic_store(&g_started, 0);

  qthr_config_init(&cfg);
  cfg.on_start = on_start_count;
  cfg.size = 0;
  bad_cfg(&cfg, "size 0");

  qthr_config_init(&cfg);
  cfg.on_start = on_start_count;
  cfg.size = sizeof cfg - 1;
  bad_cfg(&cfg, "size sizeof-1");

  qthr_config_init(&cfg);
  cfg.on_start = on_start_count;
  cfg.size = 3;
  bad_cfg(&cfg, "size 3");

  qthr_config_init(&cfg);
  cfg.on_start = on_start_count;
  cfg.queue_capacity = 0;
  bad_cfg(&cfg, "queue_capacity 0");

  /* not initialised at all (garbage size) */
  memset(&cfg, 0xFF, sizeof cfg);
  bad_cfg(&cfg, "garbage config");

  qthr_config_init(&cfg);
  CHECK_ST(qthr_init(&cfg, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_init(NULL, NULL), QTHR_INVALID_ARGUMENT);

  qthr_config_init(NULL); /* no crash */
}

static void test_null_pointers(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  atomic_long ran;
  atomic_init(&ran, 0);
  qthr_future *f = (qthr_future *)(uintptr_t)0x99;
  void *res = NULL;

  CHECK_ST(qthr_submit(NULL, tu_job_count, &ran, &f), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_submit(rt, NULL, &ran, &f), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_submit(rt, NULL, &ran, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_call(NULL, tu_job_count, &ran, &res), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_call(rt, NULL, &ran, &res), QTHR_INVALID_ARGUMENT);
  qthr_fn fns[1] = {tu_job_count};
  void *args[1] = {&ran};
  CHECK_ST(qthr_submit_batch(NULL, 1, fns, args, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_submit_batch(rt, 1, NULL, args, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_wait(NULL, 0, &res), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_wait(NULL, -1, &res), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_cancel(NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_shutdown(NULL, QTHR_DRAIN), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_get_stats(NULL, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_get_stats(rt, NULL), QTHR_INVALID_ARGUMENT);
  qthr_stats st;
  st.size = sizeof st;
  CHECK_ST(qthr_get_stats(NULL, &st), QTHR_INVALID_ARGUMENT);
  CHECK_EQ(qthr_on_worker(NULL), 0);

  /* qthr_future_then: NULL future, NULL callback */
  qthr_future *g = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_identity, NULL, &g));
  CHECK_ST(qthr_future_then(NULL, qthr_then_notify_fd, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_future_then(g, NULL, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_OK(qthr_wait(g, -1, NULL));
  qthr_future_free(g);

  /* an unknown shutdown mode does not shut down */
  CHECK_ST(qthr_shutdown(rt, (qthr_shutdown_mode)7), QTHR_INVALID_ARGUMENT);
  CHECK_OK(qthr_call(rt, tu_job_identity, (void *)3, &res));
  CHECK_EQ((intptr_t)res, 3);

  /* result pointers may be NULL */
  CHECK_OK(qthr_call(rt, tu_job_count, &ran, NULL));
  CHECK_EQ(atomic_load(&ran), 1); /* none of the refused calls ran anything */

  qthr_stats s2;
  memset(&s2, 0, sizeof s2);
  s2.size = sizeof s2;
  CHECK_OK(qthr_get_stats(rt, &s2));
  CHECK_EQ(s2.submitted, 3); /* g, the identity call and the count call */
  qthr_free(rt);
  qthr_free(NULL);
  qthr_future_free(NULL);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_bad_config);
  RUN(test_null_pointers);
  return 0;
}
