/* Helpers for the reliability C programs (built by scripts/reliability.sh with cc
 * directly, plain, under ASan, under TSan, and run under valgrind).
 * Each program exits 0 on success; on failure it prints the check and exits 1;
 * a watchdog (alarm) turns a hang into exit 124 with a message. */
#ifndef QTHR_REL_H
#define QTHR_REL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "qthr.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REL_FAIL(...)                                                           \
  do {                                                                          \
    fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__);                     \
    fprintf(stderr, __VA_ARGS__);                                               \
    fprintf(stderr, "\n");                                                      \
    fflush(stderr);                                                             \
    _exit(1);                                                                   \
  } while (0)

#define CHECK(c)                                                                \
  do {                                                                          \
    if (!(c)) REL_FAIL("CHECK(%s)", #c);                                        \
  } while (0)

#define CHECK_ST(expr, want)                                                    \
  do {                                                                          \
    qthr_status got_ = (expr), want_ = (want);                                  \
    if (got_ != want_)                                                          \
      REL_FAIL("%s = %u (%s), want %u (%s)", #expr, (unsigned)got_,             \
               qthr_status_str(got_), (unsigned)want_, qthr_status_str(want_)); \
  } while (0)

#define CHECK_OK(expr) CHECK_ST((expr), QTHR_OK)

static const char *rel_name = "test";

static void rel_on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "\nWATCHDOG: the program hung; exiting 124\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(124);
}

/* Scale factor for the amount of work: argv[1] or $QTHR_STRESS_SCALE (default 1). */
static double rel_scale = 1.0;

static void rel_start(const char *name, int argc, char **argv, unsigned watchdog_s) {
  rel_name = name;
  const char *s = argc > 1 ? argv[1] : getenv("QTHR_STRESS_SCALE");
  if (s && *s) rel_scale = atof(s);
  if (rel_scale <= 0) rel_scale = 1.0;
  const char *w = getenv("QTHR_WATCHDOG_SCALE");
  double ws = w && *w ? atof(w) : 1.0;
  if (ws < 1) ws = 1;
  signal(SIGALRM, rel_on_alarm);
  alarm((unsigned)(watchdog_s * ws));
  setvbuf(stdout, NULL, _IOLBF, 0);
}

__attribute__((unused)) static size_t rel_scaled(size_t n) {
  size_t v = (size_t)((double)n * rel_scale);
  return v ? v : 1;
}

__attribute__((unused)) static uint64_t rel_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((unused)) static void rel_sleep_us(unsigned us) {
  struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* xorshift64* */
__attribute__((unused)) static uint64_t rel_rng(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

__attribute__((unused)) static qthr_runtime *rel_init(size_t cap, int nonblocking) {
  qthr_config c;
  qthr_config_init(&c);
  c.queue_capacity = cap;
  c.nonblocking = nonblocking;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&c, &rt));
  return rt;
}

__attribute__((unused)) static qthr_stats rel_stats(qthr_runtime *rt) {
  qthr_stats s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  CHECK_OK(qthr_get_stats(rt, &s));
  return s;
}

__attribute__((unused)) static void *rel_ident(void *a) { return a; }

#endif
