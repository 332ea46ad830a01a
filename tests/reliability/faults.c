/* Faults in jobs and hooks, the C twin of tests/reliability_faults/: a long
 * blocking job (waiters sleep: their thread CPU time is measured; timeouts work),
 * re-entrant jobs, two runtimes calling each other deeply from many threads,
 * on_start failing, on_stop exactly once (also after qthr_free from a job),
 * CANCEL shutdown while a job runs. */
#include "testutil.h"

static void *worker_cpu(void *a) {
  (void)a;
  return (void *)(uintptr_t)tu_thread_cpu_ns();
}

/* ---- a long job ------------------------------------------------------------------- */

typedef struct {
  qthr_runtime *rt;
  qthr_future *f;
  int kind; /* 0 wait forever, 1 call, 2 poll */
  qthr_status st;
  int timeouts;
  uint64_t cpu;
} waiter_arg;

static void *long_waiter(void *p) {
  waiter_arg *a = p;
  uint64_t c0 = tu_thread_cpu_ns();
  if (a->kind == 0) {
    a->st = qthr_wait(a->f, -1, NULL);
  } else if (a->kind == 1) {
    void *r = NULL;
    a->st = qthr_call(a->rt, tu_job_identity, (void *)77, &r);
    CHECK(r == (void *)77);
  } else {
    while ((a->st = qthr_wait(a->f, 10000000, NULL)) == QTHR_TIMEOUT) a->timeouts++;
  }
  a->cpu = tu_thread_cpu_ns() - c0;
  return NULL;
}

static void long_job(void) {
  const unsigned block_ms = 400;
  qthr_runtime *rt = tu_init(64, 0);
  tu_gate g;
  tu_gate_init(&g);
  qthr_future *f;
  CHECK_OK(qthr_submit(rt, tu_job_gate, &g, &f));
  while (!atomic_load(&g.waiting)) tu_sleep_us(100);
  waiter_arg wa[4] = {{rt, f, 0, 0, 0, 0}, {rt, f, 1, 0, 0, 0}, {rt, f, 2, 0, 0, 0}, {rt, f, 2, 0, 0, 0}};
  pthread_t th[4];
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&th[i], NULL, long_waiter, &wa[i]) == 0);
  tu_sleep_us(block_ms * 1000);
  tu_gate_open(&g);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CHECK_OK(wa[i].st);
    /* Loose: a sleeping waiter uses far less than a quarter of the wall time
     * (valgrind inflates CPU: QTHR_NO_CPU_CHECK skips this). */
    if (tu_cpu_checks() && wa[i].cpu > block_ms * 1000000u / 4)
      TU_FAIL("waiter kind %d burnt %.1f ms of CPU in %u ms", wa[i].kind, wa[i].cpu / 1e6, block_ms);
    if (wa[i].kind == 2) CHECK(wa[i].timeouts >= 5);
  }
  void *a, *b;
  CHECK_OK(qthr_call(rt, worker_cpu, NULL, &a));
  tu_sleep_us(300000);
  CHECK_OK(qthr_call(rt, worker_cpu, NULL, &b));
  uint64_t idle = (uint64_t)(uintptr_t)b - (uint64_t)(uintptr_t)a;
  if (tu_cpu_checks() && idle > 60000000u)
    TU_FAIL("an idle worker burnt %.1f ms of CPU in 300 ms", idle / 1e6);
  qthr_future_free(f);
  qthr_free(rt);
  tu_gate_destroy(&g);
  printf("faults: long job ok (waiters %.1f/%.1f/%.1f/%.1f ms CPU, idle worker %.2f ms)\n",
         wa[0].cpu / 1e6, wa[1].cpu / 1e6, wa[2].cpu / 1e6, wa[3].cpu / 1e6, idle / 1e6);
}

/* ---- re-entrancy ------------------------------------------------------------------ */

typedef struct {
  qthr_runtime *rt;
  _Atomic(qthr_future *) me;
  qthr_status st[16];
  uintptr_t val[16];
  _Atomic int then_runs;
} reentry;

static void *plus_one(void *a) { return (void *)((uintptr_t)a + 1); }
static void reentry_then(void *ctx, qthr_status st, void *r) {
  reentry *re = ctx;
  CHECK_OK(st);
  CHECK(r == (void *)1234);
  atomic_fetch_add(&re->then_runs, 1);
}

static void *reentrant_job(void *arg) {
  reentry *re = arg;
  qthr_runtime *rt = re->rt;
  void *r = NULL;
  int n = 0;
  re->st[n] = QTHR_OK, re->val[n++] = (uintptr_t)qthr_on_worker(rt);
  re->st[n] = qthr_call(rt, plus_one, (void *)41, &r), re->val[n++] = (uintptr_t)r;
  qthr_future *f = NULL;
  re->st[n++] = qthr_submit(rt, plus_one, (void *)9, &f);
  re->st[n] = qthr_wait(f, -1, &r), re->val[n++] = (uintptr_t)r;
  qthr_future_free(f);
  qthr_future *me;
  while (!(me = atomic_load(&re->me))) sched_yield();
  re->st[n++] = qthr_wait(me, -1, NULL);
  re->st[n++] = qthr_wait(me, 5000000, NULL);
  re->st[n++] = qthr_wait(me, 0, NULL);
  re->st[n++] = qthr_cancel(me);
  re->st[n++] = qthr_future_then(me, reentry_then, re);
  re->st[n++] = qthr_shutdown(rt, QTHR_DRAIN);
  re->st[n++] = qthr_shutdown(rt, QTHR_CANCEL);
  re->st[n++] = qthr_submit(rt, plus_one, NULL, NULL);
  re->st[n++] = qthr_submit(rt, plus_one, NULL, NULL);
  re->st[n++] = qthr_submit(rt, plus_one, NULL, NULL);
  qthr_fn fns[1] = {plus_one};
  re->st[n++] = qthr_submit_batch(rt, 1, fns, NULL, NULL);
  re->st[n] = qthr_call(rt, plus_one, (void *)1, &r), re->val[n++] = (uintptr_t)r;
  return (void *)1234;
}

static void reentrancy(void) {
  reentry re;
  memset(&re, 0, sizeof re);
  re.rt = tu_init(2, 0);
  qthr_future *f;
  CHECK_OK(qthr_submit(re.rt, reentrant_job, &re, &f));
  atomic_store(&re.me, f);
  void *r = NULL;
  CHECK_OK(qthr_wait(f, -1, &r));
  CHECK(r == (void *)1234);
  CHECK_OK(qthr_shutdown(re.rt, QTHR_DRAIN));
  qthr_future_free(f);
  qthr_free(re.rt);
  qthr_status want[16] = {QTHR_OK, QTHR_OK, QTHR_OK, QTHR_OK, QTHR_WOULD_DEADLOCK, QTHR_WOULD_DEADLOCK,
                          QTHR_TIMEOUT, QTHR_NOT_CANCELLABLE, QTHR_OK, QTHR_WOULD_DEADLOCK,
                          QTHR_WOULD_DEADLOCK, QTHR_OK, QTHR_OK, QTHR_QUEUE_FULL, QTHR_QUEUE_FULL, QTHR_OK};
  for (int i = 0; i < 16; i++)
    if (re.st[i] != want[i]) TU_FAIL("re-entrant step %d: %s, want %s", i, qthr_status_str(re.st[i]), qthr_status_str(want[i]));
  CHECK(re.val[0] == 1 && re.val[1] == 42 && re.val[3] == 10 && re.val[15] == 2);
  CHECK(atomic_load(&re.then_runs) == 1);
  printf("faults: re-entrancy ok\n");
}

/* ---- two runtimes calling each other ------------------------------------------------ */

static qthr_runtime *pp[2];
typedef struct {
  int side, depth, via_future;
} hop_t;

static void *hop(void *arg) {
  hop_t *h = arg;
  CHECK(qthr_on_worker(pp[h->side]) == 1);
  if (h->depth == 0) return (void *)1;
  hop_t next = {1 - h->side, h->depth - 1, !h->via_future};
  void *r = NULL;
  if (h->via_future) {
    qthr_future *f;
    CHECK_OK(qthr_submit(pp[next.side], hop, &next, &f));
    CHECK_OK(qthr_wait(f, -1, &r));
    qthr_future_free(f);
  } else {
    CHECK_OK(qthr_call(pp[next.side], hop, &next, &r));
  }
  return (void *)((uintptr_t)r + 1);
}

static void *pingpong_thread(void *p) {
  int t = (int)(uintptr_t)p;
  size_t iters = tu_scaled(300);
  for (size_t i = 0; i < iters; i++) {
    hop_t h = {t % 2, (int)(1 + (i + (size_t)t) % 6), (int)(i % 2 == 0)};
    void *r = NULL;
    CHECK_OK(qthr_call(pp[t % 2], hop, &h, &r));
    CHECK((uintptr_t)r == (uintptr_t)h.depth + 1);
  }
  return NULL;
}

static void pingpong(void) {
  pp[0] = tu_init(64, 0);
  pp[1] = tu_init(64, 0);
  pthread_t th[6];
  for (uintptr_t t = 0; t < 6; t++) CHECK(pthread_create(&th[t], NULL, pingpong_thread, (void *)t) == 0);
  for (int t = 0; t < 6; t++) pthread_join(th[t], NULL);
  qthr_free(pp[0]);
  qthr_free(pp[1]);
  printf("faults: cross-runtime ping-pong ok\n");
}

/* ---- hooks ------------------------------------------------------------------------- */

typedef struct {
  _Atomic int starts, stops;
  _Atomic uintptr_t worker, stop_thread;
  int rc;
  unsigned sleep_ms;
} hooks;

static int h_start(void *c) {
  hooks *h = c;
  tu_sleep_us(h->sleep_ms * 1000);
  atomic_store(&h->worker, (uintptr_t)pthread_self());
  atomic_fetch_add(&h->starts, 1);
  return h->rc;
}
static void h_stop(void *c) {
  hooks *h = c;
  atomic_store(&h->stop_thread, (uintptr_t)pthread_self());
  atomic_fetch_add(&h->stops, 1);
}
static qthr_runtime *hooked(hooks *h, qthr_status want) {
  qthr_config c;
  qthr_config_init(&c);
  c.on_start = h_start;
  c.on_stop = h_stop;
  c.hook_ctx = h;
  qthr_runtime *rt = (qthr_runtime *)0x1;
  CHECK_ST(qthr_init(&c, &rt), want);
  return want == QTHR_OK ? rt : NULL;
}
static void *free_own(void *a) {
  qthr_free((qthr_runtime *)a);
  return NULL;
}
static void *shut_thread(void *p) {
  void **a = p;
  CHECK_OK(qthr_shutdown((qthr_runtime *)a[0], (qthr_shutdown_mode)(uintptr_t)a[1]));
  return NULL;
}

static void hooks_test(void) {
  int rcs[3] = {1, -1, -2147483647 - 1};
  for (int i = 0; i < 3; i++) {
    hooks h = {0};
    h.rc = rcs[i];
    hooked(&h, QTHR_START_FAILED);
    CHECK(atomic_load(&h.starts) == 1 && atomic_load(&h.stops) == 0);
  }
  hooks h = {0};
  h.sleep_ms = 100;
  uint64_t t0 = tu_now_ns();
  qthr_runtime *rt = hooked(&h, QTHR_OK);
  CHECK(tu_now_ns() - t0 >= 100000000u);
  CHECK(atomic_load(&h.starts) == 1);
  qthr_free(rt);
  CHECK(atomic_load(&h.stops) == 1 && atomic_load(&h.stop_thread) == atomic_load(&h.worker));
  for (int path = 0; path < 5; path++) {
    hooks hp = {0};
    rt = hooked(&hp, QTHR_OK);
    for (int i = 0; i < 20; i++) CHECK_OK(qthr_submit(rt, tu_job_identity, NULL, NULL));
    if (path == 1) CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
    if (path == 2) CHECK_OK(qthr_shutdown(rt, QTHR_CANCEL));
    if (path == 3) {
      CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
      CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
      CHECK_OK(qthr_shutdown(rt, QTHR_CANCEL));
    }
    if (path == 4) {
      pthread_t th[4];
      void *args[4][2];
      for (int k = 0; k < 4; k++) {
        args[k][0] = rt;
        args[k][1] = (void *)(uintptr_t)(k % 2);
        CHECK(pthread_create(&th[k], NULL, shut_thread, args[k]) == 0);
      }
      for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    }
    qthr_free(rt);
    if (atomic_load(&hp.stops) != 1) TU_FAIL("path %d: on_stop ran %d times", path, atomic_load(&hp.stops));
    CHECK(atomic_load(&hp.stop_thread) == atomic_load(&hp.worker));
  }
  /* qthr_free from a job: queued jobs still run, on_stop once, by itself. */
  static hooks hf;
  memset(&hf, 0, sizeof hf);
  rt = hooked(&hf, QTHR_OK);
  tu_gate g;
  tu_gate_init(&g);
  qthr_future *fg, *fs[10];
  CHECK_OK(qthr_submit(rt, tu_job_gate, &g, &fg));
  CHECK_OK(qthr_submit(rt, free_own, rt, NULL));
  for (uintptr_t i = 0; i < 10; i++) CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)i, &fs[i]));
  tu_gate_open(&g);
  for (uintptr_t i = 0; i < 10; i++) {
    void *r = NULL;
    CHECK_OK(qthr_wait(fs[i], -1, &r));
    CHECK(r == (void *)i);
    qthr_future_free(fs[i]);
  }
  CHECK_OK(qthr_wait(fg, -1, NULL));
  qthr_future_free(fg);
  t0 = tu_now_ns();
  while (atomic_load(&hf.stops) == 0) {
    CHECK(tu_now_ns() - t0 < 10000000000u);
    tu_sleep_us(1000);
  }
  tu_sleep_us(50000); /* the detached worker finishes exiting */
  CHECK(atomic_load(&hf.stops) == 1);
  tu_gate_destroy(&g);
  printf("faults: hooks ok\n");
}

/* ---- CANCEL shutdown waits for the running job ---------------------------------------- */

static _Atomic int cb_counts[2];
static void count_cb(void *c, qthr_status st, void *r) {
  (void)c, (void)r;
  atomic_fetch_add(&cb_counts[st == QTHR_CANCELLED], 1);
}
static _Atomic int shut_returned;
static void *cancel_shutdown(void *a) {
  CHECK_OK(qthr_shutdown((qthr_runtime *)a, QTHR_CANCEL));
  atomic_store(&shut_returned, 1);
  return NULL;
}

static void cancel_while_running(void) {
  qthr_runtime *rt = tu_init(128, 0);
  tu_gate g;
  tu_gate_init(&g);
  qthr_future *fg, *fs[100];
  CHECK_OK(qthr_submit(rt, tu_job_gate, &g, &fg));
  CHECK_OK(qthr_future_then(fg, count_cb, NULL));
  while (!atomic_load(&g.waiting)) tu_sleep_us(100);
  for (int i = 0; i < 100; i++) {
    CHECK_OK(qthr_submit(rt, tu_job_identity, NULL, &fs[i]));
    CHECK_OK(qthr_future_then(fs[i], count_cb, NULL));
  }
  pthread_t th;
  CHECK(pthread_create(&th, NULL, cancel_shutdown, rt) == 0);
  /* The shutdown has begun once it cancelled the queued jobs (on its own thread, at once;
   * not a fixed sleep: under valgrind on a loaded machine that thread can start late). */
  CHECK(WAIT_UNTIL(qthr_wait(fs[99], 0, NULL) == QTHR_CANCELLED, 10000));
  CHECK_ST(qthr_submit(rt, tu_job_identity, NULL, NULL), QTHR_SHUTDOWN);
  tu_sleep_us(50000);
  CHECK(!atomic_load(&shut_returned)); /* it waits for the running job */
  tu_gate_open(&g);
  pthread_join(th, NULL);
  CHECK_OK(qthr_wait(fg, 0, NULL));
  for (int i = 0; i < 100; i++) {
    CHECK_ST(qthr_wait(fs[i], 0, NULL), QTHR_CANCELLED);
    qthr_future_free(fs[i]);
  }
  qthr_future_free(fg);
  qthr_free(rt);
  tu_gate_destroy(&g);
  CHECK(atomic_load(&cb_counts[0]) == 1 && atomic_load(&cb_counts[1]) == 100);
  printf("faults: cancel shutdown with a running job ok\n");
}

int main(int argc, char **argv) {
  tu_watchdog(120);
  RUN(long_job);
  RUN(reentrancy);
  RUN(pingpong);
  RUN(hooks_test);
  RUN(cancel_while_running);
  return 0;
}
