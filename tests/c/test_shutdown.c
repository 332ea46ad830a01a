/* qthr_shutdown: DRAIN runs every queued job, CANCEL resolves them as QTHR_CANCELLED, under
 * load from several threads; nothing is lost and no future is left pending; new submits
 * get QTHR_SHUTDOWN, and so do submitters that were waiting for room, at once; a running
 * job always finishes; idempotent; concurrent shutdown callers all return after the
 * worker stopped; on_stop exactly once; qthr_shutdown_begin refuses and cancels without
 * waiting, from any thread, the worker included. */
#include "testutil.h"

#define NSUB 4
#define KEEP 4096

typedef struct {
  qthr_runtime *rt;
  atomic_long *ran;
  long ok;            /* accepted submits */
  long kept;          /* futures kept */
  qthr_future **futs; /* KEEP slots */
  qthr_status stop_status;
} sub_arg;

static void *job_busy(void *arg) {
  uint64_t until = tu_now_ns() + 5000; /* 5 us */
  while (tu_now_ns() < until) {
  }
  atomic_fetch_add((atomic_long *)arg, 1);
  return arg;
}

static void *submitter(void *p) {
  sub_arg *s = (sub_arg *)p;
  for (long i = 0;; i++) {
    qthr_status st;
    if (i % 3 == 0 && s->kept < KEEP) {
      qthr_future *f = NULL;
      st = qthr_submit(s->rt, job_busy, s->ran, &f);
      if (st == QTHR_OK) s->futs[s->kept++] = f;
    } else if (i % 3 == 1) {
      qthr_fn fns[4] = {job_busy, job_busy, job_busy, job_busy};
      void *args[4] = {s->ran, s->ran, s->ran, s->ran};
      st = qthr_submit_batch(s->rt, 4, fns, args, NULL);
      if (st == QTHR_OK) s->ok += 3; /* +1 below */
    } else {
      st = qthr_submit(s->rt, job_busy, s->ran, NULL);
    }
    if (st != QTHR_OK) {
      s->stop_status = st;
      return NULL;
    }
    s->ok++;
  }
}

static void under_load(qthr_shutdown_mode mode) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 512;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  atomic_long ran;
  atomic_init(&ran, 0);
  pthread_t th[NSUB];
  sub_arg sa[NSUB];
  for (int i = 0; i < NSUB; i++) {
    sa[i] = (sub_arg){rt, &ran, 0, 0, calloc(KEEP, sizeof(qthr_future *)), QTHR_OK};
    CHECK(pthread_create(&th[i], NULL, submitter, &sa[i]) == 0);
  }
  tu_sleep_ms(100);
  /* Make sure jobs are queued when the shutdown starts: a job that blocks the worker
   * until 50 ms after the queue behind it is seen non-empty. */
  tu_gate gate;
  tu_gate_init(&gate);
  qthr_future *g = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_gate, &gate, &g));
  CHECK(WAIT_UNTIL(atomic_load(&gate.waiting) == 1, 10000));
  qthr_stats q;
  memset(&q, 0, sizeof q);
  q.size = sizeof q;
  CHECK(WAIT_UNTIL(qthr_get_stats(rt, &q) == QTHR_OK && q.queue_len > 0, 10000));
  tu_opener op = {&gate, 50};
  pthread_t opener = tu_open_later(&op);
  CHECK_OK(qthr_shutdown(rt, mode));
  long ran_at_return = atomic_load(&ran);
  pthread_join(opener, NULL);
  CHECK_OK(qthr_wait(g, 0, NULL)); /* the running job finished */
  qthr_future_free(g);
  tu_gate_destroy(&gate);
  long ok = 0, fut_ok = 0, fut_cancelled = 0;
  for (int i = 0; i < NSUB; i++) {
    pthread_join(th[i], NULL);
    CHECK_ST(sa[i].stop_status, QTHR_SHUTDOWN);
    ok += sa[i].ok;
    for (long k = 0; k < sa[i].kept; k++) {
      qthr_status st = qthr_wait(sa[i].futs[k], 0, NULL);
      CHECK_MSG(st != QTHR_TIMEOUT, "a future was left pending after shutdown");
      if (mode == QTHR_DRAIN) CHECK_OK(st);
      if (st == QTHR_OK) fut_ok++;
      else if (st == QTHR_CANCELLED) fut_cancelled++;
      else TU_FAIL("future resolved as %s", qthr_status_str(st));
      qthr_future_free(sa[i].futs[k]);
    }
    free(sa[i].futs);
  }
  CHECK_EQ(atomic_load(&ran), ran_at_return); /* nothing ran after shutdown returned */
  qthr_stats st;
  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  CHECK_OK(qthr_get_stats(rt, &st));
  printf("  %s: %ld accepted, %ld ran, %" PRIu64 " cancelled (%ld/%ld kept futures ok/cancelled)\n",
         mode == QTHR_DRAIN ? "drain" : "cancel", ok, ran_at_return, st.cancelled, fut_ok,
         fut_cancelled);
  CHECK_EQ(st.submitted, ok + 1);             /* + the gate job */
  CHECK_EQ(st.completed, ran_at_return + 1);
  CHECK_EQ(st.submitted, st.completed + st.cancelled);
  CHECK_EQ(st.queue_len, 0);
  if (mode == QTHR_DRAIN) {
    CHECK_EQ(ran_at_return, ok); /* every accepted job ran */
    CHECK_EQ(st.cancelled, 0);
  } else {
    CHECK_MSG(st.cancelled > 0, "CANCEL under load cancelled nothing (queue never had jobs?)");
  }
  qthr_free(rt);
}

static void test_drain_under_load(void) { under_load(QTHR_DRAIN); }
static void test_cancel_under_load(void) { under_load(QTHR_CANCEL); }

static atomic_int g_stop_calls;
static void on_stop_count(void *ctx) {
  (void)ctx;
  tu_sleep_ms(20);
  atomic_fetch_add(&g_stop_calls, 1);
}

/* A runtime whose on_stop counts into g_stop_calls (reset), its worker blocked on *gate. */
static qthr_runtime *counted_stops_blocked(tu_gate *gate, qthr_future **running) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_stop = on_stop_count;
  atomic_store(&g_stop_calls, 0);
  return tu_runtime_blocked(&cfg, gate, running);
}

static void test_idempotent_and_after(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_stop = on_stop_count;
  atomic_store(&g_stop_calls, 0);
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  CHECK_OK(qthr_shutdown(rt, QTHR_CANCEL));
  CHECK_EQ(atomic_load(&g_stop_calls), 1);

  qthr_future *f = (qthr_future *)(uintptr_t)0x77;
  CHECK_ST(qthr_submit(rt, tu_job_identity, NULL, &f), QTHR_SHUTDOWN);
  CHECK_ST(qthr_submit(rt, tu_job_identity, NULL, NULL), QTHR_SHUTDOWN);
  void *res = NULL;
  CHECK_ST(qthr_call(rt, tu_job_identity, NULL, &res), QTHR_SHUTDOWN);
  qthr_fn fns[1] = {tu_job_identity};
  void *args[1] = {NULL};
  CHECK_ST(qthr_submit_batch(rt, 1, fns, args, NULL), QTHR_SHUTDOWN);
  CHECK_EQ(qthr_on_worker(rt), 0);
  qthr_stats st;
  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  CHECK_OK(qthr_get_stats(rt, &st));
  CHECK_EQ(st.submitted, 0);
  qthr_free(rt);
  CHECK_EQ(atomic_load(&g_stop_calls), 1);
}

typedef struct {
  qthr_runtime *rt;
  qthr_shutdown_mode mode;
  qthr_status st;
  atomic_int returned;
  int stop_calls_at_return;
} shut_arg;

static void *shutter(void *p) {
  shut_arg *s = (shut_arg *)p;
  s->st = qthr_shutdown(s->rt, s->mode);
  s->stop_calls_at_return = atomic_load(&g_stop_calls);
  atomic_store(&s->returned, 1);
  return NULL;
}

static void test_concurrent_shutdown_callers(void) {
  tu_gate gate;
  qthr_future *running = NULL;
  qthr_runtime *rt = counted_stops_blocked(&gate, &running);
  atomic_long ran;
  atomic_init(&ran, 0);
  for (int i = 0; i < 10; i++) CHECK_OK(qthr_submit(rt, tu_job_count, &ran, NULL));
  pthread_t th[6];
  shut_arg sa[6];
  for (int i = 0; i < 6; i++) {
    sa[i].rt = rt;
    sa[i].mode = QTHR_DRAIN; /* all DRAIN: the 10 queued jobs must run */
    sa[i].st = QTHR_PANIC;
    atomic_init(&sa[i].returned, 0);
    CHECK(pthread_create(&th[i], NULL, shutter, &sa[i]) == 0);
  }
  tu_sleep_ms(60);
  /* meanwhile: new submits are refused at once (60 ms after the shutdowns began) */
  long extra = 0;
  qthr_status sst;
  while ((sst = qthr_submit(rt, tu_job_count, &ran, NULL)) == QTHR_OK) extra++;
  CHECK_ST(sst, QTHR_SHUTDOWN);
  CHECK_EQ(extra, 0);
  for (int i = 0; i < 6; i++)
    CHECK_MSG(!atomic_load(&sa[i].returned), "qthr_shutdown returned while a job still ran");
  tu_gate_open(&gate);
  for (int i = 0; i < 6; i++) {
    pthread_join(th[i], NULL);
    CHECK_OK(sa[i].st);
    CHECK_MSG(sa[i].stop_calls_at_return == 1, "a shutdown caller returned before on_stop ran");
  }
  CHECK_EQ(atomic_load(&ran), 10);
  CHECK_EQ(atomic_load(&g_stop_calls), 1);
  void *res = NULL;
  CHECK_OK(qthr_wait(running, 0, &res)); /* the running job finished normally */
  CHECK(res == &gate);
  qthr_future_free(running);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

typedef struct {
  qthr_runtime *rt;
  atomic_long *ran;
  qthr_status st;
  atomic_int returned;
} room_arg;

static void *room_waiter(void *p) {
  room_arg *r = (room_arg *)p;
  r->st = qthr_submit(r->rt, tu_job_count, r->ran, NULL);
  atomic_store(&r->returned, 1);
  return NULL;
}

static void test_waiting_submitters_get_shutdown(void) {
  for (int m = 0; m < 2; m++) {
    qthr_shutdown_mode mode = m ? QTHR_CANCEL : QTHR_DRAIN;
    qthr_config cfg;
    qthr_config_init(&cfg);
    cfg.queue_capacity = 2;
    tu_gate gate;
    qthr_future *running = NULL;
    qthr_runtime *rt = tu_runtime_blocked(&cfg, &gate, &running);
    atomic_long ran;
    atomic_init(&ran, 0);
    CHECK_OK(qthr_submit(rt, tu_job_count, &ran, NULL));
    CHECK_OK(qthr_submit(rt, tu_job_count, &ran, NULL));
    room_arg ra[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
      ra[i].rt = rt;
      ra[i].ran = &ran;
      ra[i].st = QTHR_PANIC;
      atomic_init(&ra[i].returned, 0);
      CHECK(pthread_create(&th[i], NULL, room_waiter, &ra[i]) == 0);
    }
    tu_sleep_ms(50);
    for (int i = 0; i < 3; i++) CHECK(!atomic_load(&ra[i].returned));
    shut_arg sa = {rt, mode, QTHR_PANIC, 0, 0};
    pthread_t sth;
    CHECK(pthread_create(&sth, NULL, shutter, &sa) == 0);
    /* the waiting submitters are released with QTHR_SHUTDOWN while the job still runs */
    for (int i = 0; i < 3; i++) {
      CHECK_MSG(WAIT_UNTIL(atomic_load(&ra[i].returned), 3000),
                "a submitter waiting for room was not released by shutdown");
      pthread_join(th[i], NULL);
      CHECK_ST(ra[i].st, QTHR_SHUTDOWN);
    }
    CHECK(!atomic_load(&sa.returned));
    tu_gate_open(&gate);
    pthread_join(sth, NULL);
    CHECK_OK(sa.st);
    CHECK_EQ(atomic_load(&ran), mode == QTHR_DRAIN ? 2 : 0);
    CHECK_OK(qthr_wait(running, 0, NULL));
    qthr_future_free(running);
    qthr_free(rt);
    tu_gate_destroy(&gate);
  }
}

typedef struct {
  qthr_runtime *rt;
  qthr_future *f; /* NULL: do a qthr_call instead */
  qthr_status st;
  atomic_int returned;
} blocked_arg;

static void *blocked_caller(void *p) {
  blocked_arg *b = (blocked_arg *)p;
  if (b->f) b->st = qthr_wait(b->f, -1, NULL);
  else b->st = qthr_call(b->rt, tu_job_identity, NULL, NULL);
  atomic_store(&b->returned, 1);
  return NULL;
}

/* Threads blocked in qthr_call / qthr_wait on queued jobs are released by a CANCEL
 * shutdown with QTHR_CANCELLED (nothing hangs). */
static void test_cancel_releases_blocked_callers(void) {
  tu_gate gate;
  qthr_future *running = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &running);
  qthr_future *queued = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_identity, NULL, &queued));
  blocked_arg b[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    b[i].rt = rt;
    b[i].f = (i % 2) ? queued : NULL;
    b[i].st = QTHR_PANIC;
    atomic_init(&b[i].returned, 0);
    CHECK(pthread_create(&th[i], NULL, blocked_caller, &b[i]) == 0);
  }
  /* the two qthr_calls are queued once the queue holds 3 jobs */
  qthr_stats q;
  memset(&q, 0, sizeof q);
  q.size = sizeof q;
  CHECK(WAIT_UNTIL(qthr_get_stats(rt, &q) == QTHR_OK && q.queue_len == 3, 5000));
  tu_sleep_ms(20);
  for (int i = 0; i < 4; i++) CHECK(!atomic_load(&b[i].returned));
  tu_opener op = {&gate, 50};
  pthread_t opener = tu_open_later(&op);
  CHECK_OK(qthr_shutdown(rt, QTHR_CANCEL));
  pthread_join(opener, NULL);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CHECK_ST(b[i].st, QTHR_CANCELLED);
  }
  CHECK_OK(qthr_wait(running, 0, NULL));
  qthr_future_free(running);
  qthr_future_free(queued);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

/* qthr_shutdown_begin returns while the worker is still blocked in a job: from then on
 * submits get QTHR_SHUTDOWN; with CANCEL the queued jobs are already resolved, with
 * DRAIN they run once the running job returns; qthr_shutdown then joins, on_stop once. */
static void shutdown_begin(qthr_shutdown_mode mode) {
  tu_gate gate;
  qthr_future *running = NULL;
  qthr_runtime *rt = counted_stops_blocked(&gate, &running);
  atomic_long ran = 0;
  qthr_future *queued[3];
  for (int i = 0; i < 3; i++) CHECK_OK(qthr_submit(rt, tu_job_count, &ran, &queued[i]));
  CHECK_ST(qthr_shutdown_begin(rt, (qthr_shutdown_mode)7), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_shutdown_begin(NULL, mode), QTHR_INVALID_ARGUMENT);
  CHECK_OK(qthr_shutdown_begin(rt, mode));
  CHECK_OK(qthr_shutdown_begin(rt, mode)); /* idempotent */
  CHECK_ST(qthr_submit(rt, tu_job_count, &ran, NULL), QTHR_SHUTDOWN);
  void *res = NULL;
  CHECK_ST(qthr_call(rt, tu_job_identity, NULL, &res), QTHR_SHUTDOWN);
  CHECK_ST(qthr_wait(running, 0, NULL), QTHR_TIMEOUT); /* still running */
  for (int i = 0; i < 3; i++)
    CHECK_ST(qthr_wait(queued[i], 0, NULL), mode == QTHR_CANCEL ? QTHR_CANCELLED : QTHR_TIMEOUT);
  CHECK_EQ(atomic_load(&g_stop_calls), 0);
  tu_gate_open(&gate);
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  CHECK_EQ(atomic_load(&g_stop_calls), 1);
  CHECK_OK(qthr_wait(running, 0, NULL));
  for (int i = 0; i < 3; i++) {
    CHECK_ST(qthr_wait(queued[i], 0, NULL), mode == QTHR_CANCEL ? QTHR_CANCELLED : QTHR_OK);
    qthr_future_free(queued[i]);
  }
  CHECK_EQ(atomic_load(&ran), mode == QTHR_CANCEL ? 0 : 3);
  qthr_future_free(running);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

static void test_shutdown_begin_drain(void) { shutdown_begin(QTHR_DRAIN); }
static void test_shutdown_begin_cancel(void) { shutdown_begin(QTHR_CANCEL); }

/* On the worker, qthr_shutdown_begin is allowed (it waits for nothing): the job goes on,
 * the next submit from the job is refused, the queued job is cancelled. */
static qthr_runtime *g_self;
static void *job_begins_own_shutdown(void *arg) {
  qthr_status *st = (qthr_status *)arg;
  st[0] = qthr_shutdown_begin(g_self, QTHR_CANCEL);
  st[1] = qthr_submit(g_self, tu_job_identity, NULL, NULL);
  st[2] = qthr_shutdown(g_self, QTHR_DRAIN);
  return NULL;
}

static void test_shutdown_begin_on_the_worker(void) {
  tu_gate gate;
  qthr_future *running = NULL;
  g_self = tu_runtime_blocked(NULL, &gate, &running);
  qthr_status st[3] = {QTHR_PANIC, QTHR_PANIC, QTHR_PANIC};
  qthr_future *self = NULL, *after = NULL;
  CHECK_OK(qthr_submit(g_self, job_begins_own_shutdown, st, &self));
  CHECK_OK(qthr_submit(g_self, tu_job_identity, NULL, &after));
  tu_gate_open(&gate);
  CHECK_OK(qthr_wait(self, 5000 * MS, NULL));
  CHECK_OK(st[0]);
  CHECK_ST(st[1], QTHR_SHUTDOWN);
  CHECK_ST(st[2], QTHR_WOULD_DEADLOCK);
  CHECK_ST(qthr_wait(after, 5000 * MS, NULL), QTHR_CANCELLED);
  CHECK_OK(qthr_shutdown(g_self, QTHR_DRAIN));
  qthr_future_free(self);
  qthr_future_free(after);
  qthr_future_free(running);
  qthr_free(g_self);
  tu_gate_destroy(&gate);
}

int main(int argc, char **argv) {
  tu_watchdog(40);
  RUN(test_drain_under_load);
  RUN(test_cancel_under_load);
  RUN(test_idempotent_and_after);
  RUN(test_concurrent_shutdown_callers);
  RUN(test_waiting_submitters_get_shutdown);
  RUN(test_cancel_releases_blocked_callers);
  RUN(test_shutdown_begin_drain);
  RUN(test_shutdown_begin_cancel);
  RUN(test_shutdown_begin_on_the_worker);
  return 0;
}
