/* Bad input through the C ABI, the C twin of tests/reliability_badinput.rs:
 * NULL for every pointer, bad config sizes and values, bad counts and modes,
 * absurd timeouts, use after shutdown, double shutdown, shutdown from the
 * worker, futures outliving their runtime, and a fork child. Every call must
 * return its documented status; nothing may crash or hang. */
#include "testutil.h"

#include <limits.h>
#include <sys/wait.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_COUNT_ERRORS 0
#endif

static _Atomic int stops, thens;
static void count_stop(void *c) {
  (void)c;
  atomic_fetch_add(&stops, 1);
}
static int fail_start(void *c) {
  (void)c;
  return -1;
}
static void count_then(void *c, qthr_status st, void *r) {
  (void)c, (void)st, (void)r;
  atomic_fetch_add(&thens, 1);
}
static _Atomic int started;
static void *sleep_ms(void *a) {
  atomic_store(&started, 1);
  tu_sleep_us((unsigned)(uintptr_t)a * 1000);
  return a;
}
static void *shutdown_own(void *a) {
  qthr_runtime *rt = a;
  qthr_status x = qthr_shutdown(rt, QTHR_DRAIN), y = qthr_shutdown(rt, QTHR_CANCEL);
  return (void *)(uintptr_t)(x * 100 + y);
}

#define BOGUS ((void *)0x1)

static void null_pointers(void) {
  qthr_config_init(NULL);
  CHECK_ST(qthr_init(NULL, NULL), QTHR_INVALID_ARGUMENT);
  qthr_config c;
  qthr_config_init(&c);
  CHECK_ST(qthr_init(&c, NULL), QTHR_INVALID_ARGUMENT);
  qthr_future *f = BOGUS;
  CHECK_ST(qthr_submit(NULL, tu_job_identity, NULL, &f), QTHR_INVALID_ARGUMENT);
  CHECK(f == BOGUS);
  qthr_fn fns[3] = {tu_job_identity, NULL, tu_job_identity};
  CHECK_ST(qthr_submit_batch(NULL, 1, fns, NULL, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_wait(NULL, 0, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_wait(NULL, -1, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_cancel(NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_future_then(NULL, count_then, NULL), QTHR_INVALID_ARGUMENT);
  qthr_future_free(NULL);
  CHECK_ST(qthr_call(NULL, tu_job_identity, NULL, NULL), QTHR_INVALID_ARGUMENT);
  CHECK(qthr_on_worker(NULL) == 0);
  CHECK_ST(qthr_shutdown(NULL, QTHR_DRAIN), QTHR_INVALID_ARGUMENT);
  qthr_free(NULL);
  qthr_stats s;
  s.size = sizeof s;
  CHECK_ST(qthr_get_stats(NULL, &s), QTHR_INVALID_ARGUMENT);
  qthr_set_log_callback(QTHR_LOG_TRACE, NULL, NULL);

  qthr_runtime *rt = tu_init(8, 0);
  f = NULL;
  CHECK_ST(qthr_submit(rt, NULL, NULL, &f), QTHR_INVALID_ARGUMENT);
  CHECK(f == NULL);
  CHECK_ST(qthr_submit(rt, NULL, NULL, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_call(rt, NULL, NULL, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_get_stats(rt, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_OK(qthr_submit_batch(rt, 0, NULL, NULL, NULL));
  CHECK_ST(qthr_submit_batch(rt, 2, NULL, NULL, NULL), QTHR_INVALID_ARGUMENT);
  qthr_future *outs[3] = {BOGUS, BOGUS, BOGUS};
  CHECK_ST(qthr_submit_batch(rt, 3, fns, NULL, outs), QTHR_INVALID_ARGUMENT);
  CHECK(outs[0] == BOGUS && outs[1] == BOGUS && outs[2] == BOGUS);
  CHECK(tu_stats(rt).submitted == 0);
  fns[1] = tu_job_identity;
  CHECK_OK(qthr_submit_batch(rt, 3, fns, NULL, outs));
  for (int i = 0; i < 3; i++) {
    void *r = BOGUS;
    CHECK_OK(qthr_wait(outs[i], -1, &r));
    CHECK(r == NULL);
    CHECK_OK(qthr_wait(outs[i], -1, NULL));
    CHECK_ST(qthr_future_then(outs[i], NULL, NULL), QTHR_INVALID_ARGUMENT);
    qthr_future_free(outs[i]);
  }
  qthr_free(rt);
}

static void bad_configs(void) {
  struct {
    const char *name;
    int field; /* 0 size, 1 cap, 2 nonblocking, 3 cpu, 4 name, 5 on_start */
    long long v;
    const char *s;
    qthr_status want;
  } cases[] = {
      {"size 0", 0, 0, 0, QTHR_INVALID_ARGUMENT},
      {"size-1", 0, (long long)sizeof(qthr_config) - 1, 0, QTHR_INVALID_ARGUMENT},
      {"size+8", 0, (long long)sizeof(qthr_config) + 8, 0, QTHR_INVALID_ARGUMENT},
      {"size max", 0, -1, 0, QTHR_INVALID_ARGUMENT},
      {"cap 0", 1, 0, 0, QTHR_INVALID_ARGUMENT},
      {"cap 2^24+1", 1, (1 << 24) + 1, 0, QTHR_INVALID_ARGUMENT},
      {"cap max", 1, -1, 0, QTHR_INVALID_ARGUMENT},
      {"cap 1", 1, 1, 0, QTHR_OK},
      {"nonblocking 2", 2, 2, 0, QTHR_INVALID_ARGUMENT},
      {"nonblocking -1", 2, -1, 0, QTHR_INVALID_ARGUMENT},
      {"cpu -5", 3, -5, 0, QTHR_INVALID_ARGUMENT},
      {"cpu INT_MIN", 3, INT_MIN, 0, QTHR_INVALID_ARGUMENT},
      {"cpu INT_MAX", 3, INT_MAX, 0, QTHR_INVALID_ARGUMENT},
      {"cpu 1023", 3, 1023, 0, QTHR_START_FAILED},
      {"cpu 0", 3, 0, 0, QTHR_OK},
      {"name NULL", 4, 0, NULL, QTHR_OK},
      {"name empty", 4, 0, "", QTHR_OK},
      {"name long", 4, 0, "a-very-very-very-long-engine-thread-name-beyond-any-limit", QTHR_OK},
      {"name bad utf8", 4, 0, "\xff\xfe\xc3", QTHR_OK},
      {"on_start fails", 5, 0, 0, QTHR_START_FAILED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qthr_config c;
    qthr_config_init(&c);
    c.queue_capacity = 16;
    c.on_stop = count_stop;
    switch (cases[i].field) {
      case 0: c.size = (size_t)cases[i].v; break;
      case 1: c.queue_capacity = (size_t)cases[i].v; break;
      case 2: c.nonblocking = (int)cases[i].v; break;
      case 3: c.cpu = (int)cases[i].v; break;
      case 4: c.thread_name = cases[i].s; break;
      case 5: c.on_start = fail_start; break;
    }
    atomic_store(&stops, 0);
    qthr_runtime *rt = BOGUS;
    qthr_status st = qthr_init(&c, &rt);
    if (st != cases[i].want) TU_FAIL("%s: got %s", cases[i].name, qthr_status_str(st));
    if (st == QTHR_OK) {
      void *r = NULL;
      CHECK_OK(qthr_call(rt, tu_job_identity, (void *)5, &r));
      CHECK(r == (void *)5);
      qthr_free(rt);
      CHECK(atomic_load(&stops) == 1);
    } else {
      CHECK(rt == BOGUS);
      CHECK(atomic_load(&stops) == 0);
    }
  }
}

static void counts_modes_timeouts(void) {
  qthr_runtime *rt = tu_init(4, 1);
  qthr_fn fns[5] = {tu_job_identity, tu_job_identity, tu_job_identity, tu_job_identity, tu_job_identity};
  CHECK_ST(qthr_submit_batch(rt, 5, fns, NULL, NULL), QTHR_INVALID_ARGUMENT);
  CHECK(tu_stats(rt).submitted == 0);
  unsigned modes[] = {2, 3, 0x80000000u, 0xffffffffu};
  for (int i = 0; i < 4; i++) CHECK_ST(qthr_shutdown(rt, (qthr_shutdown_mode)modes[i]), QTHR_INVALID_ARGUMENT);
  CHECK_OK(qthr_call(rt, tu_job_identity, NULL, NULL));
  qthr_stats s;
  size_t sizes[] = {0, 8, sizeof s - 1, sizeof s + 8, (size_t)-1};
  for (int i = 0; i < 5; i++) {
    s.size = sizes[i];
    CHECK_ST(qthr_get_stats(rt, &s), QTHR_INVALID_ARGUMENT);
  }
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, sleep_ms, (void *)30, &f));
  CHECK_ST(qthr_wait(f, 1, NULL), QTHR_TIMEOUT);
  CHECK_OK(qthr_wait(f, INT64_MIN, NULL));
  CHECK_OK(qthr_wait(f, INT64_MAX, NULL));
  qthr_future_free(f);
  CHECK_OK(qthr_submit(rt, sleep_ms, (void *)20, &f));
  CHECK_OK(qthr_wait(f, INT64_MAX, NULL));
  qthr_future_free(f);
  for (unsigned st = 0; st <= 10; st++) CHECK(qthr_status_str((qthr_status)st) != NULL);
  CHECK(qthr_status_str((qthr_status)99) != NULL);
  CHECK(qthr_status_str((qthr_status)0xffffffffu) != NULL);
  CHECK(qthr_version() == ((QTHR_VERSION_MAJOR << 16) | (QTHR_VERSION_MINOR << 8) | QTHR_VERSION_PATCH));
  qthr_free(rt);
}

static void after_shutdown(void) {
  qthr_shutdown_mode pairs[4][2] = {{QTHR_DRAIN, QTHR_DRAIN}, {QTHR_DRAIN, QTHR_CANCEL},
                                    {QTHR_CANCEL, QTHR_DRAIN}, {QTHR_CANCEL, QTHR_CANCEL}};
  for (int p = 0; p < 4; p++) {
    qthr_config c;
    qthr_config_init(&c);
    c.on_stop = count_stop;
    atomic_store(&stops, 0);
    qthr_runtime *rt;
    CHECK_OK(qthr_init(&c, &rt));
    qthr_future *done;
    CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)9, &done));
    CHECK_OK(qthr_wait(done, -1, NULL));
    CHECK_OK(qthr_shutdown(rt, pairs[p][0]));
    CHECK_OK(qthr_shutdown(rt, pairs[p][1]));
    CHECK_OK(qthr_shutdown(rt, pairs[p][0]));
    CHECK(atomic_load(&stops) == 1);
    qthr_future *f = BOGUS;
    CHECK_ST(qthr_submit(rt, tu_job_identity, NULL, &f), QTHR_SHUTDOWN);
    CHECK(f == BOGUS);
    CHECK_ST(qthr_submit(rt, tu_job_identity, NULL, NULL), QTHR_SHUTDOWN);
    qthr_fn fns[2] = {tu_job_identity, tu_job_identity};
    CHECK_ST(qthr_submit_batch(rt, 2, fns, NULL, NULL), QTHR_SHUTDOWN);
    CHECK_ST(qthr_call(rt, tu_job_identity, NULL, NULL), QTHR_SHUTDOWN);
    CHECK(qthr_on_worker(rt) == 0);
    qthr_stats s = tu_stats(rt);
    CHECK(s.submitted == 1 && s.completed == 1 && s.queue_len == 0);
    void *r = NULL;
    CHECK_OK(qthr_wait(done, -1, &r));
    CHECK(r == (void *)9);
    CHECK_ST(qthr_cancel(done), QTHR_NOT_CANCELLABLE);
    atomic_store(&thens, 0);
    CHECK_OK(qthr_future_then(done, count_then, NULL));
    CHECK(atomic_load(&thens) == 1);
    qthr_free(rt);
    CHECK(atomic_load(&stops) == 1);
    /* the future outlives its runtime */
    CHECK_OK(qthr_wait(done, 0, &r));
    CHECK_ST(qthr_cancel(done), QTHR_NOT_CANCELLABLE);
    CHECK_OK(qthr_future_then(done, count_then, NULL));
    CHECK(atomic_load(&thens) == 2);
    qthr_future_free(done);
  }
  /* shutdown from the worker */
  qthr_runtime *rt = tu_init(8, 0);
  void *r = NULL;
  CHECK_OK(qthr_call(rt, shutdown_own, rt, &r));
  CHECK((uintptr_t)r == QTHR_WOULD_DEADLOCK * 100 + QTHR_WOULD_DEADLOCK);
  CHECK_OK(qthr_call(rt, tu_job_identity, NULL, NULL));
  qthr_free(rt);
  /* futures queued at shutdown, waited after qthr_free */
  for (int m = 0; m < 2; m++) {
    rt = tu_init(64, 0);
    qthr_future *blocker, *fs[32];
    atomic_store(&started, 0);
    CHECK_OK(qthr_submit(rt, sleep_ms, (void *)30, &blocker));
    while (!atomic_load(&started)) sched_yield();
    for (uintptr_t i = 0; i < 32; i++) CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)i, &fs[i]));
    CHECK_OK(qthr_shutdown(rt, (qthr_shutdown_mode)m));
    qthr_free(rt);
    CHECK_OK(qthr_wait(blocker, 0, NULL));
    qthr_future_free(blocker);
    for (uintptr_t i = 0; i < 32; i++) {
      qthr_status st = qthr_wait(fs[i], 0, &r);
      if (m == QTHR_DRAIN) CHECK(st == QTHR_OK && r == (void *)i);
      else CHECK_ST(st, QTHR_CANCELLED);
      qthr_future_free(fs[i]);
    }
  }
}

/* After fork(): inherited runtime and futures give QTHR_FORKED at once. */
static void fork_child(void) {
  qthr_runtime *rt = tu_init(64, 0);
  qthr_future *done, *pending, *queued;
  CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)3, &done));
  CHECK_OK(qthr_wait(done, -1, NULL));
  atomic_store(&started, 0);
  CHECK_OK(qthr_submit(rt, sleep_ms, (void *)300, &pending));
  CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)4, &queued));
  while (!atomic_load(&started)) sched_yield();
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(10);
    qthr_future *f = BOGUS;
    CHECK_ST(qthr_submit(rt, tu_job_identity, NULL, &f), QTHR_FORKED);
    CHECK(f == BOGUS);
    CHECK_ST(qthr_submit(rt, tu_job_identity, NULL, NULL), QTHR_FORKED);
    qthr_fn fns[1] = {tu_job_identity};
    CHECK_ST(qthr_submit_batch(rt, 1, fns, NULL, NULL), QTHR_FORKED);
    CHECK_ST(qthr_call(rt, tu_job_identity, NULL, NULL), QTHR_FORKED);
    CHECK_ST(qthr_shutdown(rt, QTHR_DRAIN), QTHR_FORKED);
    CHECK_ST(qthr_shutdown(rt, QTHR_CANCEL), QTHR_FORKED);
    qthr_stats s;
    s.size = sizeof s;
    CHECK_ST(qthr_get_stats(rt, &s), QTHR_FORKED);
    CHECK(qthr_on_worker(rt) == 0);
    uint64_t t0 = tu_now_ns();
    CHECK_ST(qthr_wait(pending, -1, NULL), QTHR_FORKED);
    CHECK_ST(qthr_wait(queued, 1000000000, NULL), QTHR_FORKED);
    CHECK_ST(qthr_cancel(queued), QTHR_FORKED);
    CHECK_ST(qthr_future_then(queued, count_then, NULL), QTHR_FORKED);
    CHECK(tu_now_ns() - t0 < 500000000u);
    void *r = NULL;
    CHECK_OK(qthr_wait(done, -1, &r));
    CHECK(r == (void *)3);
    qthr_future_free(pending);
    qthr_future_free(queued);
    qthr_future_free(done);
    qthr_free(rt);
    qthr_runtime *rt2 = tu_init(8, 0);
    CHECK_OK(qthr_call(rt2, tu_job_identity, (void *)8, &r));
    CHECK(r == (void *)8);
    qthr_free(rt2);
    /* Under valgrind: every check above ran with error reporting on (any
     * memory error fails the child). The memory of the parent's threads
     * (stacks, TLS), inherited but not reclaimable in the child, is not a leak
     * of the child: leave through exec, which skips the exit leak check. */
    if (RUNNING_ON_VALGRIND) {
      if (VALGRIND_COUNT_ERRORS) _exit(98);
      execl("/bin/true", "true", (char *)NULL);
    }
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    TU_FAIL("fork child failed (status %#x)", status);
  void *r = NULL;
  CHECK_OK(qthr_wait(queued, -1, &r));
  CHECK(r == (void *)4);
  CHECK_OK(qthr_wait(pending, -1, NULL));
  CHECK_OK(qthr_call(rt, tu_job_identity, NULL, NULL));
  qthr_future_free(pending);
  qthr_future_free(queued);
  qthr_future_free(done);
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(120);
  RUN(null_pointers);
  RUN(bad_configs);
  RUN(counts_modes_timeouts);
  RUN(after_shutdown);
  if (!getenv("QTHR_NO_FORK")) RUN(fork_child);
  return 0;
}
