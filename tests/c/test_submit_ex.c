/* qthr_submit_ex: options (size, deadline_ns, priority) — bad input, deadlines (a job not
 * started in time never runs and resolves QTHR_EXPIRED, for waiters, then-callbacks and
 * stats), the urgent lane (before every queued normal job, FIFO among urgent jobs, room of
 * its own), and how both meet qthr_call's mailbox and shutdown. */
#include "testutil.h"

static qthr_submit_opts opts(int64_t deadline_ns, uint32_t priority) {
  qthr_submit_opts o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.deadline_ns = deadline_ns;
  o.priority = priority;
  return o;
}

/* ---- the order jobs ran in ------------------------------------------------------------ */

#define MAX_LOG 256
static atomic_int g_log_len;  /* entries claimed */
static atomic_int g_log_done; /* entries written (a reader that sees n may read n) */
static int g_log[MAX_LOG];

static void *log_job(void *arg) {
  int i = atomic_fetch_add(&g_log_len, 1);
  if (i < MAX_LOG) g_log[i] = (int)(intptr_t)arg;
  atomic_fetch_add(&g_log_done, 1);
  return arg;
}

static void log_reset(void) {
  atomic_store(&g_log_len, 0);
  atomic_store(&g_log_done, 0);
}

static void test_bad_options(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  qthr_future *f = (qthr_future *)(uintptr_t)1;
  qthr_submit_opts o = opts(0, 0);
  size_t sizes[] = {0, 8, sizeof o - 1, sizeof o + 8, SIZE_MAX};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    o.size = sizes[i];
    CHECK_ST(qthr_submit_ex(rt, tu_job_identity, NULL, &o, &f), QTHR_INVALID_ARGUMENT);
  }
  o = opts(-1, 0);
  CHECK_ST(qthr_submit_ex(rt, tu_job_identity, NULL, &o, &f), QTHR_INVALID_ARGUMENT);
  o = opts(INT64_MIN, 0);
  CHECK_ST(qthr_submit_ex(rt, tu_job_identity, NULL, &o, &f), QTHR_INVALID_ARGUMENT);
  uint32_t prios[] = {2, 3, 0x80000000u, UINT32_MAX};
  for (size_t i = 0; i < sizeof prios / sizeof prios[0]; i++) {
    o = opts(0, prios[i]);
    CHECK_ST(qthr_submit_ex(rt, tu_job_identity, NULL, &o, &f), QTHR_INVALID_ARGUMENT);
  }
  o = opts(0, 0);
  CHECK_ST(qthr_submit_ex(NULL, tu_job_identity, NULL, &o, &f), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_submit_ex(rt, NULL, NULL, &o, &f), QTHR_INVALID_ARGUMENT);
  CHECK(f == (qthr_future *)(uintptr_t)1); /* never written on failure */
  CHECK_EQ(tu_stats(rt).submitted, 0);     /* nothing was queued */
  qthr_free(rt);
}

static void test_null_options_is_submit(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit_ex(rt, tu_job_identity, (void *)(intptr_t)42, NULL, &f));
  void *r = NULL;
  CHECK_OK(qthr_wait(f, -1, &r));
  CHECK_EQ((intptr_t)r, 42);
  qthr_future_free(f);
  /* Fire and forget, with and without options. */
  atomic_long n;
  atomic_init(&n, 0);
  qthr_submit_opts o = opts(10000 * MS, 1);
  CHECK_OK(qthr_submit_ex(rt, tu_job_count, &n, NULL, NULL));
  CHECK_OK(qthr_submit_ex(rt, tu_job_count, &n, &o, NULL));
  qthr_free(rt);
  CHECK_EQ(atomic_load(&n), 2);
}

/* ---- deadlines ------------------------------------------------------------------------ */

typedef struct seen {
  atomic_int calls;
  atomic_uint status;
  void *result;
} seen;

static void then_cb(void *ctx, qthr_status st, void *result) {
  seen *s = (seen *)ctx;
  atomic_store(&s->status, st);
  s->result = result;
  atomic_fetch_add(&s->calls, 1);
}

static void test_deadline_expires_for_a_waiter(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  atomic_long ran;
  atomic_init(&ran, 0);
  qthr_submit_opts o = opts(30 * MS, 0);
  qthr_future *f = NULL;
  uint64_t t0 = tu_now_ns();
  CHECK_OK(qthr_submit_ex(rt, tu_job_count, &ran, &o, &f));
  seen s;
  memset(&s, 0, sizeof s);
  CHECK_OK(qthr_future_then(f, then_cb, &s));
  /* Before the deadline it is pending (unless this thread was off the CPU past it: valgrind
   * on a loaded machine). */
  qthr_status early = qthr_wait(f, 1 * MS, NULL);
  if (tu_now_ns() - t0 < 29 * MS) CHECK_ST(early, QTHR_TIMEOUT);
  else CHECK(early == QTHR_TIMEOUT || early == QTHR_EXPIRED);
  /* The worker is blocked, yet the waiter sees the expiry at the deadline. */
  CHECK_ST(qthr_wait(f, 5000 * MS, NULL), QTHR_EXPIRED);
  uint64_t took = tu_now_ns() - t0;
  CHECK_MSG(took >= 30 * MS && took < 2000 * MS, "expired after %.1f ms", took / 1e6);
  CHECK_ST(qthr_wait(f, 0, NULL), QTHR_EXPIRED); /* again and again */
  CHECK_EQ(atomic_load(&s.calls), 1);
  CHECK_ST(atomic_load(&s.status), QTHR_EXPIRED);
  CHECK(s.result == NULL);
  CHECK_ST(qthr_cancel(f), QTHR_NOT_CANCELLABLE);    /* resolved */
  CHECK_ST(qthr_interrupt(f), QTHR_NOT_CANCELLABLE); /* resolved */
  /* A continuation attached now runs at once with the same status. */
  seen late;
  memset(&late, 0, sizeof late);
  CHECK_OK(qthr_future_then(f, then_cb, &late));
  CHECK_ST(atomic_load(&late.status), QTHR_EXPIRED);
  tu_gate_open(&gate);
  CHECK_OK(qthr_wait(blocker, -1, NULL));
  /* The worker reaches the expired job and skips it. */
  qthr_call(rt, tu_job_identity, NULL, NULL);
  CHECK_EQ(atomic_load(&ran), 0);
  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.expired, 1);
  CHECK_EQ(st.cancelled, 1); /* an expired job never ran: counted as cancelled too */
  CHECK_EQ(st.completed + st.cancelled, st.submitted);
  qthr_future_free(f);
  qthr_future_free(blocker);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

static void test_deadline_expires_when_reached(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  atomic_long ran;
  atomic_init(&ran, 0);
  qthr_submit_opts o = opts(10 * MS, 0);
  seen s;
  memset(&s, 0, sizeof s);
  qthr_future *f = NULL;
  for (int i = 0; i < 5; i++) CHECK_OK(qthr_submit_ex(rt, tu_job_count, &ran, &o, NULL));
  CHECK_OK(qthr_submit_ex(rt, tu_job_count, &ran, &o, &f));
  CHECK_OK(qthr_future_then(f, then_cb, &s));
  qthr_submit_opts later = opts(60000 * MS, 0);
  qthr_future *g = NULL;
  CHECK_OK(qthr_submit_ex(rt, tu_job_count, &ran, &later, &g)); /* will make it */
  tu_sleep_ms(30);
  tu_gate_open(&gate);
  CHECK_OK(qthr_wait(g, -1, NULL));
  CHECK_EQ(atomic_load(&ran), 1);
  CHECK_EQ(atomic_load(&s.calls), 1); /* on the worker, when it reached the job */
  CHECK_ST(atomic_load(&s.status), QTHR_EXPIRED);
  CHECK_ST(qthr_wait(f, 0, NULL), QTHR_EXPIRED);
  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.expired, 6);
  CHECK_EQ(st.completed, 2); /* the blocker and g */
  qthr_future_free(f);
  qthr_future_free(g);
  qthr_future_free(blocker);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

/* A job started before its deadline is not affected by it, however long it runs. */
static void *slow_job(void *arg) {
  tu_sleep_ms(40);
  return arg;
}

static void test_started_job_ignores_its_deadline(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  qthr_submit_opts o = opts(10 * MS, 0);
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit_ex(rt, slow_job, (void *)(intptr_t)9, &o, &f));
  void *r = NULL;
  CHECK_OK(qthr_wait(f, -1, &r));
  CHECK_EQ((intptr_t)r, 9);
  CHECK_EQ(tu_stats(rt).expired, 0);
  qthr_future_free(f);
  qthr_free(rt);
}

/* Shutdown: CANCEL resolves queued deadline jobs as cancelled; DRAIN skips expired ones. */
static void test_deadline_and_shutdown(void) {
  for (int mode = 0; mode < 2; mode++) {
    tu_gate gate;
    qthr_future *blocker = NULL;
    qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
    atomic_long ran;
    atomic_init(&ran, 0);
    qthr_submit_opts soon = opts(5 * MS, 0), never = opts(60000 * MS, 0);
    qthr_future *a = NULL, *b = NULL;
    CHECK_OK(qthr_submit_ex(rt, tu_job_count, &ran, &soon, &a));
    CHECK_OK(qthr_submit_ex(rt, tu_job_count, &ran, &never, &b));
    tu_sleep_ms(20);
    tu_opener op = {&gate, 30};
    pthread_t th = tu_open_later(&op);
    CHECK_OK(qthr_shutdown(rt, mode == 0 ? QTHR_DRAIN : QTHR_CANCEL));
    pthread_join(th, NULL);
    CHECK_ST(qthr_wait(a, 0, NULL), mode == 0 ? QTHR_EXPIRED : QTHR_CANCELLED);
    CHECK_ST(qthr_wait(b, 0, NULL), mode == 0 ? QTHR_OK : QTHR_CANCELLED);
    CHECK_EQ(atomic_load(&ran), mode == 0 ? 1 : 0);
    qthr_future_free(a);
    qthr_future_free(b);
    qthr_future_free(blocker);
    qthr_free(rt);
    tu_gate_destroy(&gate);
  }
}

/* ---- the urgent lane ------------------------------------------------------------------ */

static void test_urgent_runs_first_fifo(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  log_reset();
  qthr_submit_opts urgent = opts(0, 1);
  for (int i = 0; i < 5; i++) CHECK_OK(qthr_submit(rt, log_job, (void *)(intptr_t)(10 + i), NULL));
  for (int i = 0; i < 3; i++)
    CHECK_OK(qthr_submit_ex(rt, log_job, (void *)(intptr_t)(20 + i), &urgent, NULL));
  CHECK_OK(qthr_submit(rt, log_job, (void *)(intptr_t)15, NULL));
  tu_gate_open(&gate);
  CHECK_OK(qthr_call(rt, tu_job_identity, NULL, NULL));
  int want[] = {20, 21, 22, 10, 11, 12, 13, 14, 15};
  CHECK_EQ(atomic_load(&g_log_len), 9);
  for (int i = 0; i < 9; i++) CHECK_EQ(g_log[i], want[i]);
  qthr_future_free(blocker);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

/* A full main lane does not hold up an urgent job, blocking or not. */
static void test_urgent_has_room_of_its_own(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 1;
  cfg.nonblocking = 1;
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(&cfg, &gate, &blocker);
  log_reset();
  qthr_submit_opts urgent = opts(0, 1);
  CHECK_OK(qthr_submit(rt, log_job, (void *)(intptr_t)1, NULL));
  CHECK_ST(qthr_submit(rt, log_job, (void *)(intptr_t)2, NULL), QTHR_QUEUE_FULL);
  CHECK_OK(qthr_submit_ex(rt, log_job, (void *)(intptr_t)3, &urgent, NULL));
  CHECK_ST(qthr_submit_ex(rt, log_job, (void *)(intptr_t)4, &urgent, NULL), QTHR_QUEUE_FULL);
  CHECK_EQ(tu_stats(rt).queue_len, 2);
  tu_gate_open(&gate);
  CHECK(WAIT_UNTIL(atomic_load(&g_log_done) == 2, 5000));
  CHECK_EQ(g_log[0], 3);
  CHECK_EQ(g_log[1], 1);
  qthr_future_free(blocker);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

/* qthr_call from an ordinary thread never overtakes a queued urgent job (the mailbox is
 * only used when neither lane holds a job). */
typedef struct caller_arg {
  qthr_runtime *rt;
  atomic_int done;
} caller_arg;

static void *caller(void *p) {
  caller_arg *c = (caller_arg *)p;
  CHECK_OK(qthr_call(c->rt, log_job, (void *)(intptr_t)99, NULL));
  atomic_store(&c->done, 1);
  return NULL;
}

static void test_urgent_vs_call(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  log_reset();
  qthr_submit_opts urgent = opts(0, 1);
  CHECK_OK(qthr_submit_ex(rt, log_job, (void *)(intptr_t)1, &urgent, NULL));
  caller_arg c = {rt, 0};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, caller, &c) == 0);
  tu_sleep_ms(20);
  CHECK_EQ(atomic_load(&c.done), 0);
  tu_gate_open(&gate);
  pthread_join(th, NULL);
  CHECK_EQ(atomic_load(&g_log_len), 2);
  CHECK_EQ(g_log[0], 1);
  CHECK_EQ(g_log[1], 99);
  qthr_future_free(blocker);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

/* On the worker: an urgent submit to its own runtime jumps its queue too. */
static void *submit_urgent_from_job(void *arg) {
  qthr_runtime *rt = (qthr_runtime *)arg;
  qthr_submit_opts urgent = opts(0, 1);
  CHECK_OK(qthr_submit(rt, log_job, (void *)(intptr_t)2, NULL));
  CHECK_OK(qthr_submit_ex(rt, log_job, (void *)(intptr_t)1, &urgent, NULL));
  return NULL;
}

static void test_urgent_from_the_worker(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  log_reset();
  CHECK_OK(qthr_call(rt, submit_urgent_from_job, rt, NULL));
  CHECK_OK(qthr_call(rt, tu_job_identity, NULL, NULL));
  CHECK_EQ(atomic_load(&g_log_len), 2);
  CHECK_EQ(g_log[0], 1);
  CHECK_EQ(g_log[1], 2);
  qthr_free(rt);
}

/* Urgent jobs with futures: cancel and interrupt withdraw them like any queued job. */
static void test_urgent_cancel(void) {
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(NULL, &gate, &blocker);
  atomic_long ran;
  atomic_init(&ran, 0);
  qthr_submit_opts urgent = opts(0, 1);
  qthr_future *a = NULL, *b = NULL;
  CHECK_OK(qthr_submit_ex(rt, tu_job_count, &ran, &urgent, &a));
  CHECK_OK(qthr_submit_ex(rt, tu_job_count, &ran, &urgent, &b));
  CHECK_OK(qthr_cancel(a));
  CHECK_OK(qthr_interrupt(b));
  tu_gate_open(&gate);
  CHECK_OK(qthr_call(rt, tu_job_identity, NULL, NULL));
  CHECK_EQ(atomic_load(&ran), 0);
  CHECK_ST(qthr_wait(a, 0, NULL), QTHR_CANCELLED);
  CHECK_ST(qthr_wait(b, 0, NULL), QTHR_CANCELLED);
  qthr_future_free(a);
  qthr_future_free(b);
  qthr_future_free(blocker);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

int main(int argc, char **argv) {
  tu_watchdog(60);
  RUN(test_bad_options);
  RUN(test_null_options_is_submit);
  RUN(test_deadline_expires_for_a_waiter);
  RUN(test_deadline_expires_when_reached);
  RUN(test_started_job_ignores_its_deadline);
  RUN(test_deadline_and_shutdown);
  RUN(test_urgent_runs_first_fifo);
  RUN(test_urgent_has_room_of_its_own);
  RUN(test_urgent_vs_call);
  RUN(test_urgent_from_the_worker);
  RUN(test_urgent_cancel);
  return 0;
}
