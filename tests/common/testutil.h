/* The one helper header of the C test programs (tests/c, tests/reliability, and any C
 * test added later): CHECK macros, a watchdog, RUN() for the cases of a program, work
 * scaling, gates, timing, small jobs and runtime helpers.
 *
 * A test program is a main() that calls tu_watchdog(seconds), then RUN(case) for each of
 * its cases, and returns 0. A failed CHECK prints the check and aborts; a hang fires the
 * watchdog, which prints the running case and exits 124. Arguments name the cases to run
 * (none: all).
 *
 * Environment (the same knobs as the Rust suite's tests/common/mod.rs):
 *   QTHR_STRESS_SCALE    factor on the amount of work of tu_scaled() (default 1; the
 *                        valgrind and sanitizer runs set 0.02-0.5)
 *   QTHR_WATCHDOG_SCALE  factor on every tu_watchdog() limit (default 1, never below 1)
 *   QTHR_NO_CPU_CHECK    skip CPU-time assertions (valgrind inflates CPU time) */
#ifndef QTHR_TESTUTIL_H
#define QTHR_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "qthr.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- failing ------------------------------------------------------------------------ */

#define TU_FAIL(...)                                                                    \
  do {                                                                                  \
    fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__);                             \
    fprintf(stderr, __VA_ARGS__);                                                       \
    fprintf(stderr, "\n");                                                              \
    fflush(stderr);                                                                     \
    abort();                                                                            \
  } while (0)

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (!(cond)) TU_FAIL("CHECK(%s)", #cond);                                           \
  } while (0)

#define CHECK_MSG(cond, ...)                                                            \
  do {                                                                                  \
    if (!(cond)) TU_FAIL(__VA_ARGS__);                                                  \
  } while (0)

/* Compares two qthr_status values and prints both names on failure. */
#define CHECK_ST(expr, expected)                                                        \
  do {                                                                                  \
    qthr_status tu_got_ = (expr);                                                       \
    qthr_status tu_exp_ = (expected);                                                   \
    if (tu_got_ != tu_exp_)                                                             \
      TU_FAIL("%s returned %u (%s), expected %u (%s)", #expr, (unsigned)tu_got_,        \
              qthr_status_str(tu_got_), (unsigned)tu_exp_, qthr_status_str(tu_exp_));   \
  } while (0)

#define CHECK_OK(expr) CHECK_ST((expr), QTHR_OK)

#define CHECK_EQ(a, b)                                                                  \
  do {                                                                                  \
    long long tu_a_ = (long long)(a), tu_b_ = (long long)(b);                           \
    if (tu_a_ != tu_b_) TU_FAIL("%s == %s: %lld != %lld", #a, #b, tu_a_, tu_b_);        \
  } while (0)

/* ---- running ------------------------------------------------------------------------ */

static const char *tu_current_test = "?";

static void tu_on_alarm(int sig) {
  static const char msg[] = "\nWATCHDOG: the test hung (alarm fired) in ";
  (void)sig;
  ssize_t r = write(2, msg, sizeof msg - 1);
  r = write(2, tu_current_test, strlen(tu_current_test));
  r = write(2, "\n", 1);
  (void)r;
  _exit(124);
}

/* A number from the environment, or dflt when unset, empty or not positive. */
static inline double tu_env_factor(const char *name, double dflt) {
  const char *s = getenv(name);
  double v = s && *s ? atof(s) : 0;
  return v > 0 ? v : dflt;
}

/* A hang fails the test instead of hanging CI: after seconds (times QTHR_WATCHDOG_SCALE,
 * for slow tools) the process exits 124. Call it again to re-arm (e.g. in a fork child:
 * alarms are not inherited). */
static inline void tu_watchdog(unsigned seconds) {
  double scale = tu_env_factor("QTHR_WATCHDOG_SCALE", 1.0);
  signal(SIGALRM, tu_on_alarm);
  alarm((unsigned)((double)seconds * (scale < 1 ? 1 : scale)));
}

/* n scaled by QTHR_STRESS_SCALE (default 1), never below 1. */
static inline size_t tu_scaled(size_t n) {
  size_t v = (size_t)((double)n * tu_env_factor("QTHR_STRESS_SCALE", 1.0));
  return v ? v : 1;
}

/* Whether CPU-time assertions apply (QTHR_NO_CPU_CHECK unset). */
static inline int tu_cpu_checks(void) { return getenv("QTHR_NO_CPU_CHECK") == NULL; }

static inline int tu_selected(int argc, char **argv, const char *name) {
  if (argc < 2) return 1;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

/* RUN(test_fn) inside main(argc, argv): runs the case unless argv names other cases. */
#define RUN(fn)                                                                         \
  do {                                                                                  \
    if (tu_selected(argc, argv, #fn)) {                                                 \
      tu_current_test = #fn;                                                            \
      printf("[ RUN  ] %s\n", #fn);                                                     \
      fflush(stdout);                                                                   \
      uint64_t tu_t0_ = tu_now_ns();                                                    \
      fn();                                                                             \
      printf("[  OK  ] %s (%.1f ms)\n", #fn, (double)(tu_now_ns() - tu_t0_) / 1e6);      \
      fflush(stdout);                                                                   \
    }                                                                                   \
  } while (0)

/* ---- time ---------------------------------------------------------------------------- */

static inline uint64_t tu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tu_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tu_process_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void tu_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static inline void tu_sleep_us(unsigned us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* xorshift64*: deterministic randomness from a per-thread seed (never 0). */
static inline uint64_t tu_rng(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

#define MS (1000000LL)

/* Polls cond every millisecond for up to ms milliseconds; evaluates to 1 if cond held at
 * its last evaluation, else 0. cond is not evaluated again after the loop: a condition that
 * can stop holding (a queue length near its top) would otherwise fail a check it passed. */
#define WAIT_UNTIL(cond, ms)                                                            \
  ({                                                                                    \
    uint64_t tu_dl_ = tu_now_ns() + (uint64_t)(ms) * 1000000u;                          \
    int tu_ok_;                                                                         \
    while (!(tu_ok_ = !!(cond)) && tu_now_ns() < tu_dl_) tu_sleep_ms(1);                \
    tu_ok_;                                                                             \
  })

/* ---- gates: block a job (or a thread) until the test opens it; no CPU burnt --------- */

typedef struct tu_gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
  atomic_int waiting; /* how many are (or were) blocked in tu_gate_wait */
} tu_gate;

static inline void tu_gate_init(tu_gate *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = 0;
  atomic_init(&g->waiting, 0);
}

static inline void tu_gate_wait(tu_gate *g) {
  atomic_fetch_add(&g->waiting, 1);
  pthread_mutex_lock(&g->mu);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

static inline void tu_gate_open(tu_gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static inline void tu_gate_destroy(tu_gate *g) {
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
}

/* Opens a gate from another thread after some milliseconds; join the returned thread. */
typedef struct tu_opener {
  tu_gate *gate;
  unsigned after_ms;
} tu_opener;

static inline void *tu_opener_main(void *p) {
  tu_opener *o = (tu_opener *)p;
  tu_sleep_ms(o->after_ms);
  tu_gate_open(o->gate);
  return NULL;
}

static inline pthread_t tu_open_later(tu_opener *o) {
  pthread_t th;
  if (pthread_create(&th, NULL, tu_opener_main, o) != 0) TU_FAIL("pthread_create");
  return th;
}

/* A job that blocks on the gate passed as its argument and returns it. */
static inline void *tu_job_gate(void *arg) {
  tu_gate_wait((tu_gate *)arg);
  return arg;
}

/* A job that returns its argument. */
static inline void *tu_job_identity(void *arg) { return arg; }

/* A job that increments the atomic_long its argument points to. */
static inline void *tu_job_count(void *arg) {
  atomic_fetch_add((atomic_long *)arg, 1);
  return arg;
}

/* Number of threads of this process (from /proc/self/status). */
static inline int tu_thread_count(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Threads: %d", &n) == 1) break;
  fclose(f);
  return n;
}

/* True once the process has `n` threads again, within 2 s. A thread that pthread_join
 * returned for leaves /proc a moment later: the kernel wakes the joiner (clearing the
 * thread's tid) before it reaps the thread, and under valgrind, which clears the tid
 * itself, that moment is longer. Use it after a join, where the count must drop. */
static inline int tu_thread_count_settles(int n) {
  return WAIT_UNTIL(tu_thread_count() == n, 2000);
}

/* Starts a runtime with a blocked first job: returns the runtime; *gate must be opened. */
static inline qthr_runtime *tu_runtime_blocked(const qthr_config *cfg, tu_gate *gate,
                                               qthr_future **blocker) {
  qthr_runtime *rt = NULL;
  tu_gate_init(gate);
  CHECK_OK(qthr_init(cfg, &rt));
  CHECK(rt != NULL);
  CHECK_OK(qthr_submit(rt, tu_job_gate, gate, blocker));
  CHECK_MSG(WAIT_UNTIL(atomic_load(&gate->waiting) == 1, 5000), "blocker job never started");
  return rt;
}

/* A runtime with the default configuration but this capacity and blocking mode. */
static inline qthr_runtime *tu_init(size_t queue_capacity, int nonblocking) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = queue_capacity;
  cfg.nonblocking = nonblocking;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  CHECK(rt != NULL);
  return rt;
}

/* A stats snapshot (size set, QTHR_OK checked). */
static inline qthr_stats tu_stats(const qthr_runtime *rt) {
  qthr_stats st;
  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  CHECK_OK(qthr_get_stats(rt, &st));
  return st;
}

#endif /* QTHR_TESTUTIL_H */
