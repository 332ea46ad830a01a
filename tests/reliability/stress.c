/* C stress program: the C twin of tests/stress/, small enough for sanitizers
 * and valgrind (scale the work with $QTHR_STRESS_SCALE).
 *
 * mixed_api_16_threads: 16 threads x (65536 * scale) jobs through two runtimes (blocking cap
 * 256, nonblocking cap 64) mixing qthr_call, submit+wait, timed waits, cancel,
 * fire-and-forget, batches (with and without futures), then (pending and
 * resolved) and early future_free. Every job is accounted for exactly once, the
 * per-thread FIFO order and the results are checked, stats must agree.
 * shutdown_under_load: shutdown under load in both modes, with two racing shutdowns, waiters
 * with timeouts and late submitters. */
#include "testutil.h"

#define THREADS 16

typedef struct ctx ctx;
typedef struct rec {
  ctx *c;
  uint32_t thread, seq;
  uint8_t rt;
  _Atomic uint8_t accepted, has_future, ran, cancelled, thens_expected, thens_run;
} rec;

struct ctx {
  _Atomic uint64_t last[THREADS];
  _Atomic uintptr_t worker[2];
  _Atomic int stopped[2], stop_calls[2];
  _Atomic long errors;
  int slow_every;
};

static void ctx_error(ctx *c, const char *what, const rec *r) {
  if (atomic_fetch_add(&c->errors, 1) < 5)
    fprintf(stderr, "ERROR: %s (job %u:%u)\n", what, r ? r->thread : 0, r ? r->seq : 0);
}

static void *job(void *arg) {
  rec *r = arg;
  ctx *c = r->c;
  uintptr_t me = (uintptr_t)pthread_self(), zero = 0;
  if (!atomic_compare_exchange_strong(&c->worker[r->rt], &zero, me) && zero != me)
    ctx_error(c, "job ran off its worker", r);
  if (atomic_load(&c->stopped[r->rt])) ctx_error(c, "job ran after on_stop", r);
  uint64_t prev = atomic_load_explicit(&c->last[r->thread], memory_order_relaxed);
  if ((uint64_t)r->seq < prev) ctx_error(c, "per-thread FIFO broken", r);
  atomic_store_explicit(&c->last[r->thread], (uint64_t)r->seq + 1, memory_order_relaxed);
  if (atomic_fetch_add(&r->ran, 1) != 0) ctx_error(c, "job ran twice", r);
  if (atomic_load(&r->cancelled)) ctx_error(c, "job ran after a successful cancel", r);
  if (c->slow_every && (r->seq * 7 + r->thread) % c->slow_every == 0) tu_sleep_us(100);
  return arg;
}

static void then_cb(void *arg, qthr_status st, void *result) {
  rec *r = arg;
  if (st == QTHR_OK) {
    if (result != arg || atomic_load(&r->ran) != 1) ctx_error(r->c, "then(OK) mismatch", r);
  } else if (st == QTHR_CANCELLED) {
    if (result != NULL || atomic_load(&r->ran) != 0) ctx_error(r->c, "then(CANCELLED) mismatch", r);
  } else {
    ctx_error(r->c, "then got an odd status", r);
  }
  atomic_fetch_add(&r->thens_run, 1);
}

static void on_stop(void *hook) {
  ctx *c = (ctx *)((uintptr_t)hook & ~(uintptr_t)1);
  int k = (int)((uintptr_t)hook & 1);
  atomic_store(&c->stopped[k], 1);
  atomic_fetch_add(&c->stop_calls[k], 1);
}

static qthr_runtime *make_rt(ctx *c, int k, size_t cap, int nonblocking) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = cap;
  cfg.nonblocking = nonblocking;
  cfg.on_stop = on_stop;
  cfg.hook_ctx = (void *)((uintptr_t)c | (uintptr_t)k);
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  return rt;
}

static void check_wait(ctx *c, rec *r, qthr_status st, void *res) {
  if (st == QTHR_OK) {
    if (res != r || atomic_load(&r->ran) != 1) ctx_error(c, "wait OK: wrong result or not run", r);
  } else if (st == QTHR_CANCELLED) {
    atomic_store(&r->cancelled, 1);
    if (atomic_load(&r->ran) != 0) ctx_error(c, "wait CANCELLED but it ran", r);
  } else {
    fprintf(stderr, "wait returned %s\n", qthr_status_str(st));
    ctx_error(c, "wait returned an odd status", r);
  }
}

static qthr_status submit1(qthr_runtime *rt, rec *r, qthr_future **out) {
  for (;;) {
    qthr_status st = qthr_submit(rt, job, r, out);
    if (st == QTHR_QUEUE_FULL) {
      sched_yield();
      continue;
    }
    if (st == QTHR_OK) {
      atomic_store(&r->accepted, 1);
      atomic_store(&r->has_future, out != NULL);
    }
    return st;
  }
}

static qthr_status submitn(qthr_runtime *rt, rec *rs, size_t k, qthr_future **outs) {
  qthr_fn fns[64];
  void *args[64];
  for (size_t j = 0; j < k; j++) {
    fns[j] = job;
    args[j] = &rs[j];
  }
  for (;;) {
    qthr_status st = qthr_submit_batch(rt, k, fns, args, outs);
    if (st == QTHR_QUEUE_FULL) {
      sched_yield();
      continue;
    }
    if (st == QTHR_OK)
      for (size_t j = 0; j < k; j++) {
        atomic_store(&rs[j].accepted, 1);
        atomic_store(&rs[j].has_future, outs != NULL);
      }
    return st;
  }
}

static qthr_status call1(qthr_runtime *rt, rec *r, void **res) {
  for (;;) {
    qthr_status st = qthr_call(rt, job, r, res);
    if (st != QTHR_QUEUE_FULL) return st;
    sched_yield();
  }
}

/* ---- mixed API, 16 threads ------------------------------------------------------- */

typedef struct {
  ctx *c;
  qthr_runtime *rt;
  rec *recs;
  size_t n;
  uint64_t seed;
} stress_arg;

static void *stress_thread(void *p) {
  stress_arg *a = p;
  ctx *c = a->c;
  uint64_t rng = a->seed * 0x9E3779B97F4A7C15ULL | 1;
  qthr_future *futs[64];
  size_t i = 0;
  while (i < a->n) {
    rec *r = &a->recs[i];
    unsigned op = (unsigned)(tu_rng(&rng) % 100);
    void *res = NULL;
    qthr_future *f = NULL;
    if (op < 15) { /* call */
      qthr_status st = call1(a->rt, r, &res);
      atomic_store(&r->accepted, 1);
      atomic_store(&r->has_future, 1);
      check_wait(c, r, st, res);
      i++;
    } else if (op < 30) { /* submit + wait */
      CHECK_OK(submit1(a->rt, r, &f));
      qthr_status st = qthr_wait(f, -1, &res);
      check_wait(c, r, st, res);
      void *res2 = NULL;
      CHECK_ST(qthr_wait(f, 0, &res2), st);
      CHECK(res2 == res);
      qthr_future_free(f);
      i++;
    } else if (op < 38) { /* timed waits */
      static const int64_t ts[4] = {0, 1000, 20000, 200000};
      CHECK_OK(submit1(a->rt, r, &f));
      qthr_status st;
      while ((st = qthr_wait(f, ts[tu_rng(&rng) % 4], &res)) == QTHR_TIMEOUT) {
      }
      check_wait(c, r, st, res);
      qthr_future_free(f);
      i++;
    } else if (op < 50) { /* cancel */
      CHECK_OK(submit1(a->rt, r, &f));
      if (tu_rng(&rng) % 3 == 0) sched_yield();
      qthr_status cs = qthr_cancel(f);
      if (cs == QTHR_OK) {
        atomic_store(&r->cancelled, 1);
        CHECK_OK(qthr_cancel(f));
        CHECK_ST(qthr_wait(f, -1, &res), QTHR_CANCELLED);
      } else {
        CHECK_ST(cs, QTHR_NOT_CANCELLABLE);
        qthr_status st = qthr_wait(f, -1, &res);
        CHECK_OK(st);
        check_wait(c, r, st, res);
      }
      qthr_future_free(f);
      i++;
    } else if (op < 60) { /* fire and forget */
      CHECK_OK(submit1(a->rt, r, NULL));
      i++;
    } else if (op < 72) { /* batch with futures */
      size_t k = 1 + tu_rng(&rng) % 48;
      if (k > a->n - i) k = a->n - i;
      CHECK_OK(submitn(a->rt, r, k, futs));
      for (size_t j = 0; j < k; j++)
        if (tu_rng(&rng) % 4 == 0) {
          qthr_status cs = qthr_cancel(futs[j]);
          if (cs == QTHR_OK) atomic_store(&r[j].cancelled, 1);
          else CHECK_ST(cs, QTHR_NOT_CANCELLABLE);
        }
      size_t start = tu_rng(&rng) % k;
      for (size_t n = 0; n < k; n++) {
        size_t j = (start + n) % k;
        qthr_status st = qthr_wait(futs[j], -1, &res);
        check_wait(c, &r[j], st, res);
        qthr_future_free(futs[j]);
      }
      i += k;
    } else if (op < 80) { /* batch, fire and forget */
      size_t k = 1 + tu_rng(&rng) % 64;
      if (k > a->n - i) k = a->n - i;
      CHECK_OK(submitn(a->rt, r, k, NULL));
      i += k;
    } else if (op < 92) { /* then */
      CHECK_OK(submit1(a->rt, r, &f));
      atomic_fetch_add(&r->thens_expected, 1);
      CHECK_OK(qthr_future_then(f, then_cb, r));
      if (tu_rng(&rng) % 3 == 0) {
        qthr_status cs = qthr_cancel(f);
        if (cs == QTHR_OK) {
          atomic_store(&r->cancelled, 1);
          CHECK(atomic_load(&r->thens_run) == 1);
        } else {
          CHECK_ST(cs, QTHR_NOT_CANCELLABLE);
        }
      }
      qthr_status st = qthr_wait(f, -1, &res);
      check_wait(c, r, st, res);
      if (tu_rng(&rng) % 2) {
        uint8_t before = atomic_load(&r->thens_run);
        atomic_fetch_add(&r->thens_expected, 1);
        CHECK_OK(qthr_future_then(f, then_cb, r));
        CHECK(atomic_load(&r->thens_run) > before);
      }
      qthr_future_free(f);
      i++;
    } else { /* free at once */
      CHECK_OK(submit1(a->rt, r, &f));
      atomic_store(&r->has_future, 0);
      qthr_future_free(f);
      i++;
    }
  }
  return NULL;
}

static void mixed_api_16_threads(void) {
  ctx *c = calloc(1, sizeof *c);
  size_t per = tu_scaled(65536);
  qthr_runtime *rts[2] = {make_rt(c, 0, 256, 0), make_rt(c, 1, 64, 1)};
  rec *recs = calloc(THREADS * per, sizeof *recs);
  stress_arg args[THREADS];
  pthread_t th[THREADS];
  uint64_t t0 = tu_now_ns();
  for (int t = 0; t < THREADS; t++) {
    int k = t < 12 ? 0 : 1;
    for (size_t s = 0; s < per; s++) {
      rec *r = &recs[t * per + s];
      r->c = c;
      r->thread = (uint32_t)t;
      r->seq = (uint32_t)s;
      r->rt = (uint8_t)k;
    }
    args[t] = (stress_arg){c, rts[k], &recs[t * per], per, 0x5EED + (uint64_t)t};
    CHECK(pthread_create(&th[t], NULL, stress_thread, &args[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  qthr_stats st[2];
  for (int k = 0; k < 2; k++) {
    CHECK_OK(qthr_shutdown(rts[k], QTHR_DRAIN));
    st[k] = tu_stats(rts[k]);
    qthr_free(rts[k]);
    CHECK(atomic_load(&c->stop_calls[k]) == 1);
  }
  CHECK(atomic_load(&c->errors) == 0);
  uint64_t ran[2] = {0, 0}, canc[2] = {0, 0};
  for (size_t j = 0; j < THREADS * per; j++) {
    rec *r = &recs[j];
    CHECK(atomic_load(&r->accepted) == 1);
    CHECK(atomic_load(&r->ran) + atomic_load(&r->cancelled) == 1);
    CHECK(atomic_load(&r->thens_run) == atomic_load(&r->thens_expected));
    ran[r->rt] += atomic_load(&r->ran);
    canc[r->rt] += atomic_load(&r->cancelled);
  }
  for (int k = 0; k < 2; k++) {
    CHECK(st[k].completed == ran[k]);
    CHECK(st[k].cancelled == canc[k]);
    CHECK(st[k].submitted == ran[k] + canc[k]);
    CHECK(st[k].queue_len == 0);
  }
  printf("stress: %zu jobs (%llu ran, %llu cancelled) by %d threads in %.2f s\n",
         THREADS * per, (unsigned long long)(ran[0] + ran[1]),
         (unsigned long long)(canc[0] + canc[1]), THREADS, (tu_now_ns() - t0) / 1e9);
  free(recs);
  free(c);
}

/* ---- shutdown under load ------------------------------------------------------- */

#define SUBS 6
#define WAITERS 3
#define PENDING_MAX (1 << 16)

typedef struct {
  pthread_mutex_t mu;
  qthr_future *f[PENDING_MAX];
  rec *r[PENDING_MAX];
  size_t head, len;
} pending_q;

static void pq_push(pending_q *q, qthr_future *f, rec *r) {
  pthread_mutex_lock(&q->mu);
  CHECK(q->len < PENDING_MAX);
  size_t i = (q->head + q->len++) % PENDING_MAX;
  q->f[i] = f;
  q->r[i] = r;
  pthread_mutex_unlock(&q->mu);
}

static int pq_pop(pending_q *q, qthr_future **f, rec **r) {
  pthread_mutex_lock(&q->mu);
  int ok = q->len > 0;
  if (ok) {
    *f = q->f[q->head];
    *r = q->r[q->head];
    q->head = (q->head + 1) % PENDING_MAX;
    q->len--;
  }
  pthread_mutex_unlock(&q->mu);
  return ok;
}

typedef struct {
  ctx *c;
  qthr_runtime *rt;
  rec *recs;
  size_t n;
  uint64_t seed;
  size_t cap;
  pending_q *pq;
  _Atomic int *shut_done;
  _Atomic int *late_refused;
} sub_arg;

static void *submitter(void *p) {
  sub_arg *a = p;
  uint64_t rng = a->seed * 0x9E3779B97F4A7C15ULL | 1;
  size_t i = 0;
  int refused = 0;
  while (i < a->n && !refused) {
    rec *r = &a->recs[i];
    unsigned op = (unsigned)(tu_rng(&rng) % 10);
    qthr_status st;
    if (op < 5) {
      qthr_future *f = NULL;
      st = submit1(a->rt, r, &f);
      if (st == QTHR_OK) {
        if (tu_rng(&rng) % 8 == 0) {
          atomic_fetch_add(&r->thens_expected, 1);
          CHECK_OK(qthr_future_then(f, then_cb, r));
        }
        pq_push(a->pq, f, r);
      }
      i++;
    } else if (op == 5) {
      st = submit1(a->rt, r, NULL);
      i++;
    } else if (op < 8) {
      void *res = NULL;
      st = call1(a->rt, r, &res);
      if (st == QTHR_OK || st == QTHR_CANCELLED) {
        atomic_store(&r->accepted, 1);
        atomic_store(&r->has_future, 1);
        check_wait(a->c, r, st, res);
      }
      i++;
    } else {
      size_t lim = a->cap < 16 ? a->cap : 16;
      size_t k = 1 + tu_rng(&rng) % lim;
      if (k > a->n - i) k = a->n - i;
      qthr_future *outs[16];
      int with = (int)(tu_rng(&rng) % 2);
      st = submitn(a->rt, r, k, with ? outs : NULL);
      if (st == QTHR_OK && with)
        for (size_t j = 0; j < k; j++) pq_push(a->pq, outs[j], &r[j]);
      i += k;
    }
    if (st == QTHR_SHUTDOWN) refused = 1;
    else if (st != QTHR_OK && st != QTHR_CANCELLED) {
      fprintf(stderr, "submitter got %s\n", qthr_status_str(st));
      ctx_error(a->c, "submitter got an odd status", r);
      break;
    }
  }
  while (!refused && !atomic_load(a->shut_done)) tu_sleep_us(1000);
  /* Late: refused at once, every kind. */
  rec *d = &a->recs[a->n - 1];
  qthr_future *f = NULL;
  qthr_fn fns[1] = {job};
  void *args[1] = {d};
  CHECK_ST(qthr_submit(a->rt, job, d, &f), QTHR_SHUTDOWN);
  CHECK_ST(qthr_submit(a->rt, job, d, NULL), QTHR_SHUTDOWN);
  CHECK_ST(qthr_call(a->rt, job, d, NULL), QTHR_SHUTDOWN);
  CHECK_ST(qthr_submit_batch(a->rt, 1, fns, args, &f), QTHR_SHUTDOWN);
  CHECK(f == NULL);
  atomic_fetch_add(a->late_refused, 1);
  return NULL;
}

typedef struct {
  ctx *c;
  pending_q *pq;
  _Atomic int *shut_done;
  uint64_t seed;
} wait_arg;

static void *waiter(void *p) {
  wait_arg *a = p;
  uint64_t rng = a->seed * 0x9E3779B97F4A7C15ULL | 1;
  static const int64_t ts[4] = {0, 10000, 300000, 2000000};
  for (;;) {
    qthr_future *f;
    rec *r;
    if (!pq_pop(a->pq, &f, &r)) {
      if (atomic_load(a->shut_done)) {
        pthread_mutex_lock(&a->pq->mu);
        int empty = a->pq->len == 0;
        pthread_mutex_unlock(&a->pq->mu);
        if (empty) return NULL;
      }
      sched_yield();
      continue;
    }
    if (tu_rng(&rng) % 10 == 0) {
      qthr_status cs = qthr_cancel(f);
      if (cs == QTHR_OK) atomic_store(&r->cancelled, 1);
      else CHECK_ST(cs, QTHR_NOT_CANCELLABLE);
    }
    void *res = NULL;
    qthr_status st = qthr_wait(f, ts[tu_rng(&rng) % 4], &res);
    if (st == QTHR_TIMEOUT) {
      pq_push(a->pq, f, r);
      continue;
    }
    check_wait(a->c, r, st, res);
    qthr_future_free(f);
  }
}

typedef struct {
  qthr_runtime *rt;
  qthr_shutdown_mode mode;
} stop_arg;

static void *stopper(void *p) {
  stop_arg *a = p;
  CHECK_OK(qthr_shutdown(a->rt, a->mode));
  return NULL;
}

static void shutdown_round(qthr_shutdown_mode mode, unsigned round, size_t cap, int nonblocking) {
  ctx *c = calloc(1, sizeof *c);
  c->slow_every = 97;
  size_t per = tu_scaled(20000);
  if (per < 100) per = 100;
  qthr_runtime *rt = make_rt(c, 0, cap, nonblocking);
  rec *recs = calloc(SUBS * per, sizeof *recs);
  pending_q *pq = calloc(1, sizeof *pq);
  pthread_mutex_init(&pq->mu, NULL);
  _Atomic int shut_done = 0, late = 0;
  sub_arg sa[SUBS];
  wait_arg wa[WAITERS];
  pthread_t st[SUBS], wt[WAITERS], stp[2];
  for (int t = 0; t < SUBS; t++) {
    for (size_t s = 0; s < per; s++) {
      rec *r = &recs[t * per + s];
      r->c = c;
      r->thread = (uint32_t)t;
      r->seq = (uint32_t)s;
    }
    sa[t] = (sub_arg){c, rt, &recs[t * per], per, round * 1000u + (unsigned)t, cap, pq, &shut_done, &late};
    CHECK(pthread_create(&st[t], NULL, submitter, &sa[t]) == 0);
  }
  for (int w = 0; w < WAITERS; w++) {
    wa[w] = (wait_arg){c, pq, &shut_done, round * 7777u + (unsigned)w};
    CHECK(pthread_create(&wt[w], NULL, waiter, &wa[w]) == 0);
  }
  tu_sleep_us(20000 + (round * 13 % 50) * 1000);
  int pure_drain = mode == QTHR_DRAIN && round % 2 == 0;
  stop_arg sp[2] = {{rt, mode}, {rt, round % 2 == 0 ? mode : (qthr_shutdown_mode)(1 - mode)}};
  for (int k = 0; k < 2; k++) CHECK(pthread_create(&stp[k], NULL, stopper, &sp[k]) == 0);
  for (int k = 0; k < 2; k++) pthread_join(stp[k], NULL);
  CHECK(atomic_load(&c->stop_calls[0]) == 1);
  pthread_mutex_lock(&pq->mu);
  for (size_t j = 0; j < pq->len; j++) {
    qthr_status s = qthr_wait(pq->f[(pq->head + j) % PENDING_MAX], 0, NULL);
    CHECK(s == QTHR_OK || s == QTHR_CANCELLED);
  }
  pthread_mutex_unlock(&pq->mu);
  atomic_store(&shut_done, 1);
  for (int t = 0; t < SUBS; t++) pthread_join(st[t], NULL);
  for (int w = 0; w < WAITERS; w++) pthread_join(wt[w], NULL);
  qthr_stats s = tu_stats(rt);
  qthr_free(rt);
  CHECK(atomic_load(&c->stop_calls[0]) == 1);
  CHECK(atomic_load(&c->errors) == 0);
  CHECK(atomic_load(&late) == SUBS);
  uint64_t ran = 0, seen = 0, accepted = 0;
  for (size_t j = 0; j < SUBS * per; j++) {
    rec *r = &recs[j];
    unsigned x = atomic_load(&r->ran), cc = atomic_load(&r->cancelled);
    CHECK(x <= 1 && x + cc <= 1);
    if (!atomic_load(&r->accepted)) {
      CHECK(x == 0);
      continue;
    }
    accepted++;
    ran += x;
    seen += cc;
    if (atomic_load(&r->has_future)) CHECK(x + cc == 1);
    else if (pure_drain) CHECK(x == 1);
    CHECK(atomic_load(&r->thens_run) == atomic_load(&r->thens_expected));
  }
  CHECK(s.completed == ran);
  CHECK(s.submitted == accepted);
  CHECK(s.submitted == s.completed + s.cancelled);
  CHECK(s.cancelled >= seen);
  if (pure_drain) CHECK(s.cancelled == seen);
  printf("shutdown round %u (mode %u, cap %zu, nonblocking %d): %llu accepted, %llu ran, %llu cancelled\n",
         round, (unsigned)mode, cap, nonblocking, (unsigned long long)accepted,
         (unsigned long long)ran, (unsigned long long)s.cancelled);
  pthread_mutex_destroy(&pq->mu);
  free(pq);
  free(recs);
  free(c);
}

static void shutdown_under_load(void) {
  static const size_t caps[4] = {1, 8, 256, 4};
  unsigned rounds = (unsigned)tu_scaled(8);
  if (rounds < 4) rounds = 4;
  for (int m = 0; m < 2; m++)
    for (unsigned round = 0; round < rounds; round++)
      shutdown_round((qthr_shutdown_mode)m, round, caps[round % 4], round % 4 == 3);
}

int main(int argc, char **argv) {
  tu_watchdog(300);
  RUN(mixed_api_16_threads);
  RUN(shutdown_under_load);
  return 0;
}
