/* Bad input as a C caller produces it.
 *
 * Every row of the README's "Bad input: call -> status" table is checked by
 * tests/reliability_badinput/ (the authoritative suite; it reaches the library through its
 * own Rust declarations). This program checks what needs a C compiler and the header: the
 * sizes the header declares, arguments passed through the header's C types at the edges of
 * their widths (qthr_shutdown_mode, the uint32_t qthr_status and qthr_log_level, int64_t
 * timeouts, size_t sizes and counts, int flags), callbacks written in C returning non-zero
 * ints, NULL through C's function-pointer types, a config that was never initialised, and
 * that a refused call starts, queues and runs nothing. */
#include "testutil.h"

#include <limits.h>

#define BOGUS_RT ((qthr_runtime *)(uintptr_t)0x4321)

static atomic_int g_started, g_stopped;
static int count_start(void *ctx) {
  (void)ctx;
  atomic_fetch_add(&g_started, 1);
  return 0;
}
static void count_stop(void *ctx) {
  (void)ctx;
  atomic_fetch_add(&g_stopped, 1);
}

/* qthr_init(cfg) must refuse: INVALID_ARGUMENT, *out untouched, no worker started. */
static void refused(qthr_config *cfg, const char *what) {
  qthr_runtime *rt = BOGUS_RT;
  int threads = tu_thread_count();
  atomic_store(&g_started, 0);
  qthr_status st = qthr_init(cfg, &rt);
  CHECK_MSG(st == QTHR_INVALID_ARGUMENT, "%s: qthr_init returned %s", what, qthr_status_str(st));
  CHECK_MSG(rt == BOGUS_RT, "%s: *out written", what);
  CHECK_MSG(atomic_load(&g_started) == 0, "%s: on_start ran", what);
  CHECK_MSG(tu_thread_count() == threads, "%s: a thread was left behind", what);
}

/* qthr_init(cfg) must succeed, and the runtime must work. */
static void accepted(qthr_config *cfg, const char *what) {
  qthr_runtime *rt = NULL;
  qthr_status st = qthr_init(cfg, &rt);
  CHECK_MSG(st == QTHR_OK && rt != NULL, "%s: qthr_init returned %s", what, qthr_status_str(st));
  void *res = NULL;
  CHECK_OK(qthr_call(rt, tu_job_identity, (void *)5, &res));
  CHECK(res == (void *)5);
  qthr_free(rt);
}

static qthr_config fresh_config(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_start = count_start;
  return cfg;
}

/* cfg->size and stats->size as the header declares them: sizeof is accepted, anything
 * else the library does not know is refused (64 bytes, the first layout, is the smallest). */
static void test_struct_sizes_from_the_header(void) {
  qthr_config cfg = fresh_config();
  CHECK_EQ(cfg.size, sizeof(qthr_config));
  accepted(&cfg, "size sizeof(qthr_config)");
  const size_t bad_sizes[] = {0, 3, 8, 63, sizeof(qthr_config) + 1, sizeof(qthr_config) + 8,
                              SIZE_MAX};
  char what[64];
  for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
    cfg = fresh_config();
    cfg.size = bad_sizes[i];
    snprintf(what, sizeof what, "cfg.size %zu", bad_sizes[i]);
    refused(&cfg, what);
  }

  qthr_runtime *rt = tu_init(8, 0);
  qthr_stats s = tu_stats(rt);
  CHECK_EQ(s.size, sizeof(qthr_stats));
  const size_t bad_stats[] = {0, 8, 47, sizeof(qthr_stats) - 1, sizeof(qthr_stats) + 1,
                              sizeof(qthr_stats) + 8, SIZE_MAX};
  for (size_t i = 0; i < sizeof bad_stats / sizeof bad_stats[0]; i++) {
    memset(&s, 0xA5, sizeof s);
    s.size = bad_stats[i];
    CHECK_ST(qthr_get_stats(rt, &s), QTHR_INVALID_ARGUMENT);
    CHECK_MSG(s.submitted == 0xA5A5A5A5A5A5A5A5ull && s.queue_high_water == 0xA5A5A5A5A5A5A5A5ull,
              "stats size %zu: the struct was written on failure", bad_stats[i]);
  }
  qthr_free(rt);
}

/* A caller that never called qthr_config_init (stack garbage, or zeroed memory). */
static void test_uninitialised_config(void) {
  qthr_config cfg;
  memset(&cfg, 0xFF, sizeof cfg);
  refused(&cfg, "config of 0xFF bytes");
  memset(&cfg, 0, sizeof cfg);
  refused(&cfg, "zeroed config");
  /* The exported symbol (not a macro the header may define over it) takes NULL. */
  (qthr_config_init)(NULL);
}

/* The int and size_t fields at the edges of their types. */
static void test_config_field_extremes(void) {
  const size_t bad_caps[] = {0, ((size_t)1 << 24) + 1, SIZE_MAX};
  char what[64];
  for (size_t i = 0; i < sizeof bad_caps / sizeof bad_caps[0]; i++) {
    qthr_config cfg = fresh_config();
    cfg.queue_capacity = bad_caps[i];
    snprintf(what, sizeof what, "queue_capacity %zu", bad_caps[i]);
    refused(&cfg, what);
  }
  const int bad_flags[] = {2, -1, INT_MIN, INT_MAX};
  for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
    qthr_config cfg = fresh_config();
    cfg.nonblocking = bad_flags[i];
    snprintf(what, sizeof what, "nonblocking %d", bad_flags[i]);
    refused(&cfg, what);
  }
  const int bad_cpus[] = {-2, -5, INT_MIN, INT_MAX};
  for (size_t i = 0; i < sizeof bad_cpus / sizeof bad_cpus[0]; i++) {
    qthr_config cfg = fresh_config();
    cfg.cpu = bad_cpus[i];
    snprintf(what, sizeof what, "cpu %d", bad_cpus[i]);
    refused(&cfg, what);
  }
  qthr_config cfg = fresh_config();
  cfg.queue_capacity = 1;
  cfg.nonblocking = 1;
  cfg.cpu = -1;
  accepted(&cfg, "capacity 1, nonblocking 1, cpu -1");
  /* a valid cpu number this machine does not have: the worker cannot pin, and is joined */
  cfg = fresh_config();
  cfg.cpu = 1023;
  qthr_runtime *rt = BOGUS_RT;
  int threads = tu_thread_count();
  CHECK_ST(qthr_init(&cfg, &rt), QTHR_START_FAILED);
  CHECK(rt == BOGUS_RT);
  CHECK_MSG(tu_thread_count_settles(threads), "cpu 1023: the worker was not joined");
}

static int start_returns_1(void *ctx) {
  (void)ctx;
  return 1;
}
static int start_returns_minus_1(void *ctx) {
  (void)ctx;
  return -1;
}
static int start_returns_int_min(void *ctx) {
  (void)ctx;
  return INT_MIN;
}

/* An on_start written in C returning any non-zero int fails the start; on_stop never runs. */
static void test_c_on_start_return_values(void) {
  int (*const fails[])(void *) = {start_returns_1, start_returns_minus_1, start_returns_int_min};
  for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
    qthr_config cfg;
    qthr_config_init(&cfg);
    cfg.on_start = fails[i];
    cfg.on_stop = count_stop;
    atomic_store(&g_stopped, 0);
    qthr_runtime *rt = BOGUS_RT;
    int threads = tu_thread_count();
    CHECK_ST(qthr_init(&cfg, &rt), QTHR_START_FAILED);
    CHECK(rt == BOGUS_RT);
    CHECK_EQ(atomic_load(&g_stopped), 0);
    CHECK_MSG(tu_thread_count_settles(threads), "on_start failed: the worker was not joined");
  }
}

/* Values outside the enums, passed through the header's types. */
static void test_enum_values_out_of_range(void) {
  CHECK_EQ(sizeof(qthr_shutdown_mode), 4);
  CHECK_EQ(sizeof(qthr_status), 4);
  CHECK_EQ(sizeof(qthr_log_level), 4);
  qthr_runtime *rt = tu_init(8, 0);
  const uint32_t bad_modes[] = {2, 3, 7, 0x80000000u, UINT32_MAX};
  for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
    CHECK_ST(qthr_shutdown(rt, (qthr_shutdown_mode)bad_modes[i]), QTHR_INVALID_ARGUMENT);
    void *res = NULL;
    CHECK_OK(qthr_call(rt, tu_job_identity, (void *)3, &res)); /* still running */
    CHECK(res == (void *)3);
  }
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  qthr_free(rt);

  const char *unknown = qthr_status_str((qthr_status)99);
  CHECK(unknown != NULL && unknown[0] != '\0');
  CHECK(strcmp(qthr_status_str((qthr_status)0x80000000u), unknown) == 0);
  CHECK(strcmp(qthr_status_str((qthr_status)UINT32_MAX), unknown) == 0);
  CHECK(strcmp(qthr_status_str(QTHR_OK), unknown) != 0);
}

static atomic_int g_log_records, g_log_bad_level;
static void count_log(void *ctx, qthr_log_level level, const char *msg) {
  (void)ctx;
  if (msg == NULL || level < QTHR_LOG_ERROR || level > QTHR_LOG_TRACE)
    atomic_fetch_add(&g_log_bad_level, 1);
  atomic_fetch_add(&g_log_records, 1);
}

/* Log levels beyond the enum are clamped: a callback only ever sees the five levels. */
static void test_log_levels_out_of_range(void) {
  const uint32_t levels[] = {0, 6, 99, 0x80000000u, UINT32_MAX};
  for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
    atomic_store(&g_log_records, 0);
    qthr_set_log_callback((qthr_log_level)levels[i], count_log, NULL);
    qthr_runtime *rt = tu_init(8, 0); /* the worker logs its start and stop */
    qthr_free(rt);
    if (levels[i] > QTHR_LOG_TRACE)
      CHECK_MSG(atomic_load(&g_log_records) > 0, "level %u: no record", (unsigned)levels[i]);
  }
  qthr_set_log_callback(QTHR_LOG_TRACE, NULL, NULL);
  CHECK_EQ(atomic_load(&g_log_bad_level), 0);
}

/* A job that blocks on the gate it is given and returns 7 (not a sleep: under valgrind on
 * a loaded machine the test thread can be off the CPU for longer than any sleep). */
static void *gated_7(void *arg) {
  tu_gate_wait((tu_gate *)arg);
  return (void *)7;
}

/* int64_t timeouts at the edges: negative waits forever, INT64_MAX does not overflow. */
static void test_timeout_extremes(void) {
  qthr_runtime *rt = tu_init(8, 0);
  const int64_t forever[] = {-1, INT64_MIN, INT64_MAX};
  for (size_t i = 0; i < sizeof forever / sizeof forever[0]; i++) {
    qthr_future *f = NULL;
    tu_gate gate;
    tu_gate_init(&gate);
    CHECK_OK(qthr_submit(rt, gated_7, &gate, &f));
    CHECK(WAIT_UNTIL(atomic_load(&gate.waiting) == 1, 5000));
    CHECK_ST(qthr_wait(f, 0, NULL), QTHR_TIMEOUT);
    CHECK_ST(qthr_wait(f, 1, NULL), QTHR_TIMEOUT);
    tu_opener op = {&gate, 30};
    pthread_t opener = tu_open_later(&op);
    void *res = NULL;
    CHECK_OK(qthr_wait(f, forever[i], &res));
    CHECK(res == (void *)7);
    pthread_join(opener, NULL);
    qthr_future_free(f);
    tu_gate_destroy(&gate);
  }
  qthr_free(rt);
}

/* NULL through C's function-pointer types, and absurd counts: refused, and nothing was
 * queued, started or run. */
static void test_refused_calls_do_nothing(void) {
  atomic_long ran;
  atomic_init(&ran, 0);
  qthr_runtime *rt = tu_init(4, 0);
  qthr_future *f = (qthr_future *)(uintptr_t)0x99;
  void *res = (void *)(uintptr_t)0x77;
  const qthr_fn no_fn = NULL;
  const qthr_then_fn no_then = NULL;

  CHECK_ST(qthr_submit(rt, no_fn, &ran, &f), QTHR_INVALID_ARGUMENT);
  CHECK(f == (qthr_future *)(uintptr_t)0x99);
  CHECK_ST(qthr_submit(rt, no_fn, &ran, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_call(rt, no_fn, &ran, &res), QTHR_INVALID_ARGUMENT);
  CHECK(res == (void *)(uintptr_t)0x77);
  qthr_fn fns[3] = {tu_job_count, NULL, tu_job_count};
  void *args[3] = {&ran, &ran, &ran};
  qthr_future *outs[3] = {f, f, f};
  CHECK_ST(qthr_submit_batch(rt, 3, fns, args, outs), QTHR_INVALID_ARGUMENT);
  CHECK(outs[0] == f && outs[1] == f && outs[2] == f);
  CHECK_ST(qthr_submit_batch(rt, 2, NULL, args, NULL), QTHR_INVALID_ARGUMENT);
  /* counts beyond the capacity (4), up to SIZE_MAX: the arrays are never read */
  const size_t counts[] = {5, SIZE_MAX / 8 + 1, SIZE_MAX};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
    CHECK_ST(qthr_submit_batch(rt, counts[i], fns, args, NULL), QTHR_INVALID_ARGUMENT);

  qthr_future *g = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_identity, NULL, &g));
  CHECK_ST(qthr_future_then(g, no_then, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_OK(qthr_wait(g, -1, NULL));
  qthr_future_free(g);

  CHECK_OK(qthr_call(rt, tu_job_count, &ran, NULL));
  CHECK_EQ(atomic_load(&ran), 1); /* none of the refused calls ran anything */
  qthr_stats s = tu_stats(rt);
  CHECK_EQ(s.submitted, 2); /* g and the count call */
  CHECK_EQ(s.completed, 2);
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_struct_sizes_from_the_header);
  RUN(test_uninitialised_config);
  RUN(test_config_field_extremes);
  RUN(test_c_on_start_return_values);
  RUN(test_enum_values_out_of_range);
  RUN(test_log_levels_out_of_range);
  RUN(test_timeout_extremes);
  RUN(test_refused_calls_do_nothing);
  return 0;
}
