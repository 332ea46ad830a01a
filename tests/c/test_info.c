/* Introspection: qthr_get_stats (size check, counters consistent after quiescence,
 * queue_len / high water), qthr_status_str (distinct for every status, never NULL, also
 * out of range), qthr_version against the header's macros and Cargo.toml, and
 * qthr_set_log_callback (lifecycle records, level filter, ctx, off). */
#include "testutil.h"

#ifndef QTHR_CARGO_VERSION_MAJOR
#error "the build passes Cargo.toml's version as QTHR_CARGO_VERSION_{MAJOR,MINOR,PATCH}"
#endif

static void test_stats(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  qthr_stats st;

  /* size check */
  memset(&st, 0, sizeof st);
  CHECK_ST(qthr_get_stats(rt, &st), QTHR_INVALID_ARGUMENT); /* size 0 */
  st.size = sizeof st - 1;
  CHECK_ST(qthr_get_stats(rt, &st), QTHR_INVALID_ARGUMENT);
  st.size = sizeof(size_t);
  CHECK_ST(qthr_get_stats(rt, &st), QTHR_INVALID_ARGUMENT);

  atomic_long ran;
  atomic_init(&ran, 0);
  qthr_future *fs[30];
  for (int i = 0; i < 30; i++) CHECK_OK(qthr_submit(rt, tu_job_count, &ran, &fs[i]));
  st = tu_stats(rt);
  CHECK_EQ(st.submitted, 31);
  CHECK_EQ(st.completed, 0);
  CHECK_EQ(st.queue_len, 30);
  CHECK_EQ(st.queue_high_water, 30);
  CHECK_EQ(st.size, sizeof st); /* size is left as the caller set it */
  for (int i = 0; i < 30; i += 3) CHECK_OK(qthr_cancel(fs[i]));
  /* (counters are exact once quiescent; a cancelled job may be counted when dequeued) */
  tu_gate_open(&gate);
  CHECK_OK(qthr_wait(fs[29], -1, NULL));
  st = tu_stats(rt);
  /* quiescent: everything accounted for */
  CHECK_EQ(st.submitted, 31);
  CHECK_EQ(st.completed, 21);
  CHECK_EQ(st.cancelled, 10);
  CHECK_EQ(st.submitted, st.completed + st.cancelled);
  CHECK_EQ(st.queue_len, 0);
  CHECK_EQ(st.queue_high_water, 30);
  CHECK_EQ(atomic_load(&ran), 20);
  for (int i = 0; i < 30; i++) qthr_future_free(fs[i]);
  qthr_future_free(blocker);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

static void test_status_strings(void) {
  const char *s[QTHR_PANIC + 1];
  for (unsigned i = 0; i <= QTHR_PANIC; i++) {
    s[i] = qthr_status_str((qthr_status)i);
    CHECK(s[i] != NULL);
    CHECK(s[i][0] != '\0');
    for (unsigned j = 0; j < i; j++)
      CHECK_MSG(strcmp(s[i], s[j]) != 0, "statuses %u and %u share the string '%s'", i, j, s[i]);
  }
  unsigned bad[] = {QTHR_PANIC + 1, 100, 0x7fffffffu, 0xffffffffu};
  for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    const char *u = qthr_status_str((qthr_status)bad[k]);
    CHECK(u != NULL);
    CHECK(u[0] != '\0');
    for (unsigned i = 0; i <= QTHR_PANIC; i++)
      CHECK_MSG(strcmp(u, s[i]) != 0, "out-of-range status %u reads as status %u", bad[k], i);
  }
  /* the enum values of the contract */
  CHECK_EQ(QTHR_OK, 0);
  CHECK_EQ(QTHR_TIMEOUT, 1);
  CHECK_EQ(QTHR_CANCELLED, 2);
  CHECK_EQ(QTHR_SHUTDOWN, 3);
  CHECK_EQ(QTHR_QUEUE_FULL, 4);
  CHECK_EQ(QTHR_INVALID_ARGUMENT, 5);
  CHECK_EQ(QTHR_START_FAILED, 6);
  CHECK_EQ(QTHR_WOULD_DEADLOCK, 7);
  CHECK_EQ(QTHR_FORKED, 8);
  CHECK_EQ(QTHR_NOT_CANCELLABLE, 9);
  CHECK_EQ(QTHR_PANIC, 10);
  CHECK_EQ(sizeof(qthr_status), 4);
}

static void test_version(void) {
  uint32_t v = qthr_version();
  printf("  qthr_version() = %u.%u.%u\n", v >> 16, (v >> 8) & 0xff, v & 0xff);
  CHECK_EQ(v >> 16, QTHR_VERSION_MAJOR);
  CHECK_EQ((v >> 8) & 0xff, QTHR_VERSION_MINOR);
  CHECK_EQ(v & 0xff, QTHR_VERSION_PATCH);
  CHECK_EQ(QTHR_VERSION_MAJOR, QTHR_CARGO_VERSION_MAJOR);
  CHECK_EQ(QTHR_VERSION_MINOR, QTHR_CARGO_VERSION_MINOR);
  CHECK_EQ(QTHR_VERSION_PATCH, QTHR_CARGO_VERSION_PATCH);
}

typedef struct {
  pthread_mutex_t mu;
  int count;
  int max_level_seen;
  int bad_level;
  int null_message;
  char last[256];
} log_sink;

static void log_cb(void *ctx, qthr_log_level level, const char *message) {
  log_sink *s = (log_sink *)ctx;
  pthread_mutex_lock(&s->mu);
  s->count++;
  if ((int)level > s->max_level_seen) s->max_level_seen = (int)level;
  if ((int)level < QTHR_LOG_ERROR || (int)level > QTHR_LOG_TRACE) s->bad_level = 1;
  if (!message) s->null_message = 1;
  else snprintf(s->last, sizeof s->last, "%s", message);
  pthread_mutex_unlock(&s->mu);
}

static int sink_count(log_sink *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->count;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static void lifecycle(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  CHECK_OK(qthr_call(rt, tu_job_identity, NULL, NULL));
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  qthr_free(rt);
}

static void test_log_callback(void) {
  static log_sink s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, {0}};
  qthr_set_log_callback(QTHR_LOG_TRACE, log_cb, &s);
  lifecycle();
  int all = sink_count(&s);
  printf("  %d records at TRACE; last: %s\n", all, s.last);
  CHECK_MSG(all > 0, "no log record for a runtime's start and stop");
  CHECK(!s.bad_level);
  CHECK(!s.null_message);

  /* lifecycle records at INFO: one by the time qthr_init returns (start), more by the
   * time qthr_shutdown returns (stop) */
  pthread_mutex_lock(&s.mu);
  s.count = 0;
  s.max_level_seen = 0;
  pthread_mutex_unlock(&s.mu);
  qthr_set_log_callback(QTHR_LOG_INFO, log_cb, &s);
  {
    qthr_runtime *lrt = NULL;
    CHECK_OK(qthr_init(NULL, &lrt));
    int after_start = sink_count(&s);
    CHECK_MSG(after_start >= 1, "no INFO record for a runtime's start");
    CHECK_OK(qthr_shutdown(lrt, QTHR_DRAIN));
    CHECK_MSG(sink_count(&s) > after_start, "no INFO record for a runtime's stop");
    qthr_free(lrt);
    CHECK(s.max_level_seen <= QTHR_LOG_INFO);
  }

  /* level filter: with ERROR only, a clean lifecycle logs nothing above ERROR */
  pthread_mutex_lock(&s.mu);
  s.count = 0;
  s.max_level_seen = 0;
  pthread_mutex_unlock(&s.mu);
  qthr_set_log_callback(QTHR_LOG_ERROR, log_cb, &s);
  lifecycle();
  CHECK(s.max_level_seen <= QTHR_LOG_ERROR);

  /* a failure is logged at ERROR or WARN */
  qthr_set_log_callback(QTHR_LOG_WARN, log_cb, &s);
  pthread_mutex_lock(&s.mu);
  s.count = 0;
  pthread_mutex_unlock(&s.mu);
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_start = NULL;
  cfg.queue_capacity = 0;
  qthr_runtime *rt = NULL;
  CHECK_ST(qthr_init(&cfg, &rt), QTHR_INVALID_ARGUMENT);
  printf("  %d WARN/ERROR records for a bad config\n", sink_count(&s));

  /* off */
  qthr_set_log_callback(QTHR_LOG_TRACE, NULL, NULL);
  pthread_mutex_lock(&s.mu);
  s.count = 0;
  pthread_mutex_unlock(&s.mu);
  lifecycle();
  CHECK_EQ(sink_count(&s), 0);

  /* on again: records come back */
  qthr_set_log_callback(QTHR_LOG_TRACE, log_cb, &s);
  lifecycle();
  CHECK(sink_count(&s) > 0);
  qthr_set_log_callback(QTHR_LOG_TRACE, NULL, NULL);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_stats);
  RUN(test_status_strings);
  RUN(test_version);
  RUN(test_log_callback);
  return 0;
}
