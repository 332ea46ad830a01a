/* qthr_interrupt and qthr_config.on_interrupt: a queued job is withdrawn like qthr_cancel;
 * a running one gets the runtime's on_interrupt hook called on the interrupting thread
 * (QTHR_OK), or QTHR_NOT_CANCELLABLE without a hook; a finished one QTHR_NOT_CANCELLABLE.
 * And the race: a hook never runs while a later job runs. */
#include "testutil.h"

/* ---- an "engine" whose long call polls a stop flag, as sqlite3_interrupt works ---------- */

typedef struct engine {
  atomic_int stop;          /* set by the hook, cleared by each job when it starts */
  atomic_int hooks;         /* hook calls */
  atomic_int running;       /* id of the job running now (0: none) */
  atomic_int bad_overlap;   /* a hook saw a job other than the one interrupted running */
  atomic_long hook_thread;  /* the thread that called the hook last */
  atomic_int target;        /* the job id the interrupter is after */
} engine;

static engine g_engine;

static void on_interrupt(void *ctx) {
  engine *e = (engine *)ctx;
  atomic_store(&e->hook_thread, (long)pthread_self());
  int running = atomic_load(&e->running);
  if (running != 0 && running != atomic_load(&e->target)) atomic_store(&e->bad_overlap, 1);
  atomic_store(&e->stop, 1);
  atomic_fetch_add(&e->hooks, 1);
}

typedef struct long_job {
  int id;
  int max_ms;     /* gives up after this long if nobody interrupts it */
  atomic_int started;
  atomic_int interrupted;
} long_job;

static void *run_long_job(void *arg) {
  long_job *j = (long_job *)arg;
  engine *e = &g_engine;
  atomic_store(&e->stop, 0);
  atomic_store(&e->running, j->id);
  atomic_store(&j->started, 1);
  uint64_t until = tu_now_ns() + (uint64_t)j->max_ms * MS;
  while (!atomic_load(&e->stop) && tu_now_ns() < until) {
  }
  atomic_store(&j->interrupted, atomic_load(&e->stop));
  atomic_store(&e->running, 0);
  return (void *)(intptr_t)j->id;
}

static qthr_runtime *engine_runtime(int with_hook) {
  memset(&g_engine, 0, sizeof g_engine);
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.thread_name = "engine";
  if (with_hook) cfg.on_interrupt = on_interrupt;
  cfg.hook_ctx = &g_engine;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  return rt;
}

static void test_defaults_have_no_hook(void) {
  qthr_config cfg;
  memset(&cfg, 0xab, sizeof cfg);
  qthr_config_init(&cfg);
  CHECK_EQ(cfg.size, sizeof(qthr_config));
  CHECK(cfg.on_interrupt == NULL);
}

static void test_queued_is_withdrawn(void) {
  qthr_runtime *rt = engine_runtime(1);
  long_job first = {.id = 1, .max_ms = 5000};
  qthr_future *f1 = NULL, *f2 = NULL;
  atomic_long ran;
  atomic_init(&ran, 0);
  CHECK_OK(qthr_submit(rt, run_long_job, &first, &f1));
  CHECK(WAIT_UNTIL(atomic_load(&first.started), 5000));
  CHECK_OK(qthr_submit(rt, tu_job_count, &ran, &f2));

  CHECK_OK(qthr_interrupt(f2)); /* queued: withdrawn, hook not called */
  CHECK_ST(qthr_wait(f2, 0, NULL), QTHR_CANCELLED);
  CHECK_OK(qthr_interrupt(f2)); /* already withdrawn: OK again, like qthr_cancel */
  CHECK_EQ(atomic_load(&g_engine.hooks), 0);

  atomic_store(&g_engine.target, 1);
  CHECK_OK(qthr_interrupt(f1)); /* running: the hook runs */
  void *r = NULL;
  CHECK_OK(qthr_wait(f1, 10000 * MS, &r));
  CHECK_EQ((intptr_t)r, 1);
  CHECK_EQ(atomic_load(&first.interrupted), 1);
  CHECK_EQ(atomic_load(&g_engine.hooks), 1);
  qthr_future_free(f1);
  qthr_future_free(f2);
  qthr_free(rt);
  CHECK_EQ(atomic_load(&ran), 0);
}

static void test_running_hook_on_calling_thread(void) {
  qthr_runtime *rt = engine_runtime(1);
  long_job j = {.id = 7, .max_ms = 10000};
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, run_long_job, &j, &f));
  CHECK(WAIT_UNTIL(atomic_load(&j.started), 5000));
  atomic_store(&g_engine.target, 7);
  uint64_t t0 = tu_now_ns();
  CHECK_OK(qthr_interrupt(f));
  CHECK_EQ(atomic_load(&g_engine.hook_thread), (long)pthread_self());
  void *r = NULL;
  CHECK_OK(qthr_wait(f, -1, &r));
  CHECK_MSG(tu_now_ns() - t0 < 2000 * MS, "the interrupted job did not stop promptly");
  CHECK_EQ((intptr_t)r, 7);
  /* Finished: nothing to interrupt. */
  CHECK_ST(qthr_interrupt(f), QTHR_NOT_CANCELLABLE);
  CHECK_EQ(atomic_load(&g_engine.hooks), 1);
  qthr_future_free(f);
  qthr_free(rt);
}

static void test_running_without_hook(void) {
  qthr_runtime *rt = engine_runtime(0);
  long_job j = {.id = 3, .max_ms = 100};
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, run_long_job, &j, &f));
  CHECK(WAIT_UNTIL(atomic_load(&j.started), 5000));
  CHECK_ST(qthr_interrupt(f), QTHR_NOT_CANCELLABLE);
  void *r = NULL;
  CHECK_OK(qthr_wait(f, -1, &r)); /* it runs to its end */
  CHECK_EQ((intptr_t)r, 3);
  CHECK_EQ(atomic_load(&j.interrupted), 0);
  qthr_future_free(f);
  qthr_free(rt);
}

static void test_bad_input(void) {
  CHECK_ST(qthr_interrupt(NULL), QTHR_INVALID_ARGUMENT);
}

/* ---- the race: interrupt vs the job finishing on its own -------------------------------- */

typedef struct racer {
  qthr_future *volatile f;
  long_job *volatile job;
  atomic_int go;
  atomic_int quit;
  atomic_int oks, not_cancellable;
} racer;

static void *interrupter(void *p) {
  racer *r = (racer *)p;
  for (;;) {
    while (!atomic_load(&r->go))
      if (atomic_load(&r->quit)) return NULL;
    /* Most rounds: once the job runs (a hook races its end); some: at once (it may
     * still be queued). */
    static unsigned seed = 1;
    seed = seed * 1103515245u + 12345u;
    if (seed >> 16 & 3) {
      while (!atomic_load(&r->job->started)) {
      }
      for (unsigned spin = (seed >> 8) & 0xff; spin; spin--) __asm__ volatile("" ::: "memory");
    }
    qthr_status st = qthr_interrupt(r->f);
    if (st == QTHR_OK)
      atomic_fetch_add(&r->oks, 1);
    else if (st == QTHR_NOT_CANCELLABLE)
      atomic_fetch_add(&r->not_cancellable, 1);
    else
      TU_FAIL("qthr_interrupt returned %s", qthr_status_str(st));
    atomic_store(&r->go, 0);
  }
}

static void test_interrupt_races_completion(void) {
  qthr_runtime *rt = engine_runtime(1);
  racer r;
  memset(&r, 0, sizeof r);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, interrupter, &r) == 0);
  enum { ROUNDS = 1000 };
  long_job jobs[2];
  for (int i = 0; i < ROUNDS; i++) {
    /* Job i is the target; job i+1 (queued right behind it) must never see the hook. */
    long_job *a = &jobs[i % 2];
    memset(a, 0, sizeof *a);
    a->id = 2 * i + 1;
    a->max_ms = 0; /* finishes at once unless interrupted first: a tight race */
    r.job = a;
    long_job next = {.id = 2 * i + 2, .max_ms = 0};
    qthr_future *fa = NULL, *fb = NULL;
    atomic_store(&g_engine.target, a->id);
    CHECK_OK(qthr_submit(rt, run_long_job, a, &fa));
    r.f = fa;
    atomic_store(&r.go, 1);
    CHECK_OK(qthr_submit(rt, run_long_job, &next, &fb));
    CHECK_OK(qthr_wait(fb, -1, NULL));
    while (atomic_load(&r.go)) {
    }
    void *res = NULL;
    qthr_status st = qthr_wait(fa, 0, &res);
    CHECK_MSG(st == QTHR_OK || st == QTHR_CANCELLED, "target resolved as %s",
              qthr_status_str(st));
    if (st == QTHR_OK) CHECK_EQ((intptr_t)res, a->id);
    qthr_future_free(fa);
    qthr_future_free(fb);
  }
  atomic_store(&r.quit, 1);
  pthread_join(th, NULL);
  CHECK_EQ(atomic_load(&g_engine.bad_overlap), 0);
  CHECK_EQ(atomic_load(&r.oks) + atomic_load(&r.not_cancellable), ROUNDS);
  printf("  race: %d interrupted or withdrawn, %d already finished, %d hook calls\n",
         atomic_load(&r.oks), atomic_load(&r.not_cancellable), atomic_load(&g_engine.hooks));
  qthr_free(rt);
}

/* A job may interrupt a future of another runtime; interrupting its own running job from
 * inside that job calls the hook on the worker (the engine decides what that means). */
static void *interrupt_self(void *arg) {
  _Atomic(qthr_future *) *slot = (_Atomic(qthr_future *) *)arg;
  while (atomic_load(slot) == NULL) {
  }
  return (void *)(intptr_t)qthr_interrupt(atomic_load(slot));
}

static void test_interrupt_from_own_job(void) {
  qthr_runtime *rt = engine_runtime(1);
  _Atomic(qthr_future *) self = NULL;
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, interrupt_self, (void *)&self, &f));
  atomic_store(&self, f);
  void *r = NULL;
  CHECK_OK(qthr_wait(f, -1, &r));
  CHECK_EQ((intptr_t)r, QTHR_OK);
  CHECK_EQ(atomic_load(&g_engine.hooks), 1);
  qthr_future_free(f);
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(60);
  RUN(test_defaults_have_no_hook);
  RUN(test_bad_input);
  RUN(test_queued_is_withdrawn);
  RUN(test_running_hook_on_calling_thread);
  RUN(test_running_without_hook);
  RUN(test_interrupt_from_own_job);
  RUN(test_interrupt_races_completion);
  return 0;
}
