/* The basic path through every entry point: config defaults, init, submit, wait, call,
 * on_worker, stats, shutdown, free, version, status strings. Also built against the
 * static library (test_basic_static) to prove qthr::qthr_static links and works. */
#include "testutil.h"

static pthread_t g_worker;
static atomic_int g_worker_set;

static void *job_record_worker(void *arg) {
  g_worker = pthread_self();
  atomic_store(&g_worker_set, 1);
  return arg;
}

static void *job_on_worker(void *arg) {
  const qthr_runtime *rt = (const qthr_runtime *)arg;
  return (void *)(intptr_t)(qthr_on_worker(rt) * 100 + (pthread_equal(pthread_self(), g_worker) ? 1 : 0));
}

static void *job_add_one(void *arg) { return (void *)((intptr_t)arg + 1); }

static void test_config_defaults(void) {
  qthr_config cfg;
  memset(&cfg, 0xAB, sizeof cfg);
  qthr_config_init(&cfg);
  CHECK_EQ(cfg.size, sizeof(qthr_config));
  CHECK(cfg.thread_name != NULL);
  CHECK(strcmp(cfg.thread_name, "qthr") == 0);
  CHECK_EQ(cfg.queue_capacity, 4096);
  CHECK_EQ(cfg.nonblocking, 0);
  CHECK(cfg.on_start == NULL);
  CHECK(cfg.on_stop == NULL);
  CHECK(cfg.hook_ctx == NULL);
  CHECK_EQ(cfg.cpu, -1);
}

static void test_init_default_and_roundtrip(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  CHECK(rt != NULL);

  /* submit + wait: the result comes back, the job ran on another thread. */
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, job_record_worker, (void *)(intptr_t)42, &f));
  CHECK(f != NULL);
  void *res = NULL;
  CHECK_OK(qthr_wait(f, -1, &res));
  CHECK_EQ((intptr_t)res, 42);
  CHECK(atomic_load(&g_worker_set));
  CHECK(!pthread_equal(g_worker, pthread_self()));
  qthr_future_free(f);

  /* qthr_call: same worker, result returned. */
  res = NULL;
  CHECK_OK(qthr_call(rt, job_on_worker, rt, &res));
  CHECK_EQ((intptr_t)res, 101);
  CHECK_EQ(qthr_on_worker(rt), 0);

  for (intptr_t i = 0; i < 1000; i++) {
    CHECK_OK(qthr_call(rt, job_add_one, (void *)i, &res));
    CHECK_EQ((intptr_t)res, i + 1);
  }

  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.submitted, 1002);
  CHECK_EQ(st.completed, 1002);
  CHECK_EQ(st.cancelled, 0);
  CHECK_EQ(st.queue_len, 0);
  CHECK(st.queue_high_water >= 1);

  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  qthr_free(rt);
}

static void test_version_and_strings(void) {
  uint32_t v = qthr_version();
  CHECK_EQ(v, ((uint32_t)QTHR_VERSION_MAJOR << 16) | ((uint32_t)QTHR_VERSION_MINOR << 8) |
                  (uint32_t)QTHR_VERSION_PATCH);
  CHECK(qthr_status_str(QTHR_OK) != NULL);
  CHECK(strlen(qthr_status_str(QTHR_OK)) > 0);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_config_defaults);
  RUN(test_init_default_and_roundtrip);
  RUN(test_version_and_strings);
  return 0;
}
