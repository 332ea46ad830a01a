/* qthr_future_then: cb runs exactly once, and on the right thread:
 *  - pending future: on the worker, right after the job (before the next job);
 *  - already resolved (done or cancelled): at once, on the calling thread;
 *  - resolved later by qthr_cancel: on the cancelling thread, before qthr_cancel returns;
 *  - cancelled by qthr_shutdown(QTHR_CANCEL): on the shutdown caller (or the worker),
 *    before qthr_shutdown returns.
 * Also: several callbacks on one future, freeing the future right after then, and the
 * ready-made qthr_then_notify_fd. */
#include "testutil.h"

#include <poll.h>
#include <sys/eventfd.h>

typedef struct {
  atomic_int calls;
  pthread_t thread;
  qthr_status st;
  void *res;
} cb_rec;

static void cb_record(void *ctx, qthr_status st, void *result) {
  cb_rec *r = (cb_rec *)ctx;
  r->thread = pthread_self();
  r->st = st;
  r->res = result;
  atomic_fetch_add(&r->calls, 1);
}

static void rec_init(cb_rec *r) {
  memset(r, 0, sizeof *r);
  atomic_init(&r->calls, 0);
  r->st = QTHR_PANIC;
}

static void *job_self(void *arg) {
  (void)arg;
  return (void *)pthread_self();
}

static pthread_t worker_of(qthr_runtime *rt) {
  void *res = NULL;
  CHECK_OK(qthr_call(rt, job_self, NULL, &res));
  return (pthread_t)res;
}

static void *job_read_calls(void *arg) { return (void *)(intptr_t)atomic_load(&((cb_rec *)arg)->calls); }

static void test_then_pending_runs_on_worker_after_job(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  pthread_t worker = worker_of(rt);
  tu_gate gate;
  tu_gate_init(&gate);
  qthr_future *f = NULL, *next = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_gate, &gate, &f));
  cb_rec r;
  rec_init(&r);
  CHECK_OK(qthr_future_then(f, cb_record, &r));
  CHECK_OK(qthr_submit(rt, job_read_calls, &r, &next));
  CHECK_EQ(atomic_load(&r.calls), 0);
  tu_gate_open(&gate);
  void *seen = NULL;
  CHECK_OK(qthr_wait(next, -1, &seen));
  CHECK_MSG((intptr_t)seen == 1, "the callback had not run when the next job started");
  CHECK_EQ(atomic_load(&r.calls), 1);
  CHECK(pthread_equal(r.thread, worker));
  CHECK_OK(r.st);
  CHECK(r.res == &gate);
  qthr_future_free(f);
  qthr_future_free(next);
  qthr_free(rt);
  CHECK_EQ(atomic_load(&r.calls), 1);
  tu_gate_destroy(&gate);
}

static void test_then_already_resolved_runs_at_once_on_caller(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)(uintptr_t)77, &f));
  CHECK_OK(qthr_wait(f, -1, NULL));
  cb_rec r;
  rec_init(&r);
  CHECK_OK(qthr_future_then(f, cb_record, &r));
  CHECK_EQ(atomic_load(&r.calls), 1); /* before qthr_future_then returned */
  CHECK(pthread_equal(r.thread, pthread_self()));
  CHECK_OK(r.st);
  CHECK_EQ((uintptr_t)r.res, 77);
  qthr_future_free(f);

  /* already cancelled: at once, on the caller, with QTHR_CANCELLED */
  tu_gate gate;
  tu_gate_init(&gate);
  qthr_future *b = NULL, *c = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_gate, &gate, &b));
  CHECK_OK(qthr_submit(rt, tu_job_identity, NULL, &c));
  CHECK_OK(qthr_cancel(c));
  rec_init(&r);
  CHECK_OK(qthr_future_then(c, cb_record, &r));
  CHECK_EQ(atomic_load(&r.calls), 1);
  CHECK(pthread_equal(r.thread, pthread_self()));
  CHECK_ST(r.st, QTHR_CANCELLED);
  tu_gate_open(&gate);
  qthr_future_free(b);
  qthr_future_free(c);
  qthr_free(rt);
  CHECK_EQ(atomic_load(&r.calls), 1);
  tu_gate_destroy(&gate);
}

typedef struct {
  qthr_future *f;
  cb_rec *r;
  pthread_t self;
  qthr_status st;
  int calls_when_cancel_returned;
} canceller_arg;

static void *canceller(void *p) {
  canceller_arg *c = (canceller_arg *)p;
  c->self = pthread_self();
  c->st = qthr_cancel(c->f);
  c->calls_when_cancel_returned = atomic_load(&c->r->calls);
  return NULL;
}

static void test_then_resolved_by_cancel_runs_on_canceller(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_identity, NULL, &f));
  cb_rec r;
  rec_init(&r);
  CHECK_OK(qthr_future_then(f, cb_record, &r));
  CHECK_EQ(atomic_load(&r.calls), 0);
  canceller_arg c = {f, &r, pthread_self(), QTHR_PANIC, -1};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, canceller, &c) == 0);
  pthread_join(th, NULL);
  CHECK_OK(c.st);
  CHECK_EQ(c.calls_when_cancel_returned, 1);
  CHECK(pthread_equal(r.thread, c.self));
  CHECK_ST(r.st, QTHR_CANCELLED);
  tu_gate_open(&gate);
  qthr_future_free(f);
  qthr_future_free(blocker);
  qthr_free(rt);
  CHECK_EQ(atomic_load(&r.calls), 1);
  tu_gate_destroy(&gate);
}

#define NQ 50

static void test_then_shutdown_cancel(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  pthread_t worker = worker_of(rt);
  tu_gate gate;
  tu_gate_init(&gate);
  qthr_future *blocker = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_gate, &gate, &blocker));
  CHECK(WAIT_UNTIL(atomic_load(&gate.waiting) == 1, 5000));
  cb_rec blocker_rec;
  rec_init(&blocker_rec);
  CHECK_OK(qthr_future_then(blocker, cb_record, &blocker_rec));
  static cb_rec r[NQ];
  qthr_future *fs[NQ];
  for (int i = 0; i < NQ; i++) {
    rec_init(&r[i]);
    CHECK_OK(qthr_submit(rt, tu_job_identity, NULL, &fs[i]));
    CHECK_OK(qthr_future_then(fs[i], cb_record, &r[i]));
    if (i % 2) {
      qthr_future_free(fs[i]); /* a callback outlives a freed future */
      fs[i] = NULL;
    }
  }
  /* The running job must finish before shutdown can return: open the gate a bit later. */
  tu_opener o = {&gate, 50};
  pthread_t opener = tu_open_later(&o);
  CHECK_OK(qthr_shutdown(rt, QTHR_CANCEL));
  pthread_join(opener, NULL);
  /* the running job finished normally, its callback on the worker */
  CHECK_EQ(atomic_load(&blocker_rec.calls), 1);
  CHECK_OK(blocker_rec.st);
  CHECK(pthread_equal(blocker_rec.thread, worker));
  for (int i = 0; i < NQ; i++) {
    CHECK_MSG(atomic_load(&r[i].calls) == 1, "callback %d ran %d times", i, atomic_load(&r[i].calls));
    CHECK_ST(r[i].st, QTHR_CANCELLED);
    CHECK_MSG(pthread_equal(r[i].thread, pthread_self()) || pthread_equal(r[i].thread, worker),
              "callback %d ran on neither the shutdown caller nor the worker", i);
    if (fs[i]) {
      CHECK_ST(qthr_wait(fs[i], 0, NULL), QTHR_CANCELLED);
      qthr_future_free(fs[i]);
    }
  }
  qthr_future_free(blocker);
  qthr_free(rt);
  for (int i = 0; i < NQ; i++) CHECK_EQ(atomic_load(&r[i].calls), 1);
  tu_gate_destroy(&gate);
}

static void test_then_several_callbacks_and_free(void) {
  tu_gate gate;
  qthr_future *f = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &f);
  cb_rec r[4];
  for (int i = 0; i < 4; i++) {
    rec_init(&r[i]);
    CHECK_OK(qthr_future_then(f, cb_record, &r[i]));
  }
  qthr_future_free(f); /* freed before the job ran: the job and callbacks still run */
  tu_gate_open(&gate);
  qthr_free(rt);
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(atomic_load(&r[i].calls), 1);
    CHECK_OK(r[i].st);
    CHECK(r[i].res == &gate);
  }
  tu_gate_destroy(&gate);
}

static void test_then_notify_fd(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  int efd = eventfd(0, EFD_CLOEXEC);
  CHECK(efd >= 0);
  tu_gate gate;
  tu_gate_init(&gate);
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_gate, &gate, &f));
  CHECK_OK(qthr_future_then(f, qthr_then_notify_fd, (void *)(intptr_t)efd));
  uint64_t v = 0;
  /* nothing written while the job is pending */
  struct pollfd pfd = {efd, POLLIN, 0};
  CHECK_EQ(poll(&pfd, 1, 20), 0);
  CHECK_ST(qthr_wait(f, 0, NULL), QTHR_TIMEOUT);
  tu_gate_open(&gate);
  CHECK(read(efd, &v, sizeof v) == (ssize_t)sizeof v); /* blocks until the worker wrote */
  CHECK_EQ(v, 1);
  CHECK_OK(qthr_wait(f, 0, NULL));
  /* already resolved: written at once */
  CHECK_OK(qthr_future_then(f, qthr_then_notify_fd, (void *)(intptr_t)efd));
  CHECK(read(efd, &v, sizeof v) == (ssize_t)sizeof v);
  CHECK_EQ(v, 1);
  close(efd);
  qthr_future_free(f);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

/* then races completion and cancel: each callback still runs exactly once, with the
 * status that matches what happened to the job. */
#define NRACE 4000
static atomic_int g_race_calls[NRACE];
static qthr_status g_race_status[NRACE];

static void cb_race(void *ctx, qthr_status st, void *result) {
  intptr_t i = (intptr_t)ctx;
  g_race_status[i] = st;
  if (st == QTHR_OK) CHECK((intptr_t)result == i);
  atomic_fetch_add(&g_race_calls[i], 1);
}

static void test_then_races(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  static qthr_future *fs[NRACE];
  static qthr_status cancel_st[NRACE];
  for (intptr_t i = 0; i < NRACE; i++) {
    atomic_store(&g_race_calls[i], 0);
    g_race_status[i] = QTHR_PANIC;
    cancel_st[i] = QTHR_PANIC;
    CHECK_OK(qthr_submit(rt, tu_job_identity, (void *)i, &fs[i]));
    CHECK_OK(qthr_future_then(fs[i], cb_race, (void *)i)); /* the worker may be running it */
    if (i % 3 == 0) cancel_st[i] = qthr_cancel(fs[i]);
    if (i % 5 == 0) {
      qthr_future_free(fs[i]);
      fs[i] = NULL;
    }
  }
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  for (int i = 0; i < NRACE; i++) {
    CHECK_MSG(atomic_load(&g_race_calls[i]) == 1, "callback %d ran %d times", i,
              atomic_load(&g_race_calls[i]));
    if (cancel_st[i] == QTHR_OK) CHECK_ST(g_race_status[i], QTHR_CANCELLED);
    else CHECK_OK(g_race_status[i]);
    qthr_future_free(fs[i]);
  }
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_then_pending_runs_on_worker_after_job);
  RUN(test_then_already_resolved_runs_at_once_on_caller);
  RUN(test_then_resolved_by_cancel_runs_on_canceller);
  RUN(test_then_shutdown_cancel);
  RUN(test_then_several_callbacks_and_free);
  RUN(test_then_notify_fd);
  RUN(test_then_races);
  return 0;
}
