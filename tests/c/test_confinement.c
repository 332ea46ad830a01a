/* Confinement and order under load: 8 threads x 100k jobs mutate an UNSYNCHRONISED engine
 * state. Every access asserts it runs on the worker that ran on_start; each job checks that
 * it is the next one of its submitting thread (per-thread FIFO); every result is checked;
 * at the end the engine saw exactly every job, none lost, none twice.
 * The submitters mix qthr_submit windows, qthr_submit_batch, fire-and-forget and qthr_call.
 * QTHR_STRESS_SCALE (a factor, default 1) scales the job count. */
#include "testutil.h"

#define NTHREADS 8
#define WINDOW 512
#define MAGIC ((uintptr_t)0x5a5a5a5a5a5a5a5aULL)

/* The engine: plain, unsynchronised memory that only the worker may touch. */
static struct {
  pthread_t owner;
  int started;
  uint64_t total;
  uint64_t next_seq[NTHREADS];
} engine;

static int engine_start(void *ctx) {
  (void)ctx;
  engine.owner = pthread_self();
  engine.started = 1;
  return 0;
}

static void *engine_job(void *arg) {
  uintptr_t a = (uintptr_t)arg;
  unsigned tid = (unsigned)(a >> 32);
  uint64_t seq = a & 0xffffffffu;
  CHECK_MSG(engine.started && pthread_equal(pthread_self(), engine.owner),
            "job ran off the worker thread");
  CHECK_MSG(tid < NTHREADS, "bad tid %u", tid);
  CHECK_MSG(engine.next_seq[tid] == seq, "thread %u: job %" PRIu64 " ran, expected %" PRIu64,
            tid, seq, engine.next_seq[tid]);
  engine.next_seq[tid] = seq + 1;
  engine.total++;
  return (void *)(a ^ MAGIC);
}

static void *engine_total(void *arg) {
  (void)arg;
  CHECK(pthread_equal(pthread_self(), engine.owner));
  return (void *)(uintptr_t)engine.total;
}

typedef struct {
  qthr_runtime *rt;
  unsigned tid;
  uint64_t jobs;
} worker_arg;

static void *arg_for(unsigned tid, uint64_t seq) {
  return (void *)(((uintptr_t)tid << 32) | (uintptr_t)seq);
}

static void *submitter(void *p) {
  worker_arg *w = (worker_arg *)p;
  qthr_future *futs[WINDOW];
  void *args[WINDOW];
  qthr_fn fns[WINDOW];
  for (int i = 0; i < WINDOW; i++) fns[i] = engine_job;
  uint64_t seq = 0;
  unsigned mode = w->tid % 4; /* 0,1: submit windows; 2: batches; 3: calls + fire-and-forget */
  while (seq < w->jobs) {
    uint64_t n = w->jobs - seq < WINDOW ? w->jobs - seq : WINDOW;
    if (mode == 3) {
      for (uint64_t i = 0; i < n; i++, seq++) {
        if (i % 8 == 0) {
          void *res = NULL;
          CHECK_OK(qthr_call(w->rt, engine_job, arg_for(w->tid, seq), &res));
          CHECK((uintptr_t)res == ((uintptr_t)arg_for(w->tid, seq) ^ MAGIC));
        } else {
          CHECK_OK(qthr_submit(w->rt, engine_job, arg_for(w->tid, seq), NULL));
        }
      }
      continue;
    }
    for (uint64_t i = 0; i < n; i++) args[i] = arg_for(w->tid, seq + i);
    if (mode == 2) {
      CHECK_OK(qthr_submit_batch(w->rt, (size_t)n, fns, args, futs));
    } else {
      for (uint64_t i = 0; i < n; i++) CHECK_OK(qthr_submit(w->rt, engine_job, args[i], &futs[i]));
    }
    for (uint64_t i = 0; i < n; i++) {
      void *res = NULL;
      CHECK_OK(qthr_wait(futs[i], -1, &res));
      CHECK_MSG((uintptr_t)res == ((uintptr_t)args[i] ^ MAGIC), "wrong result for job %" PRIu64,
                seq + i);
      qthr_future_free(futs[i]);
    }
    seq += n;
  }
  return NULL;
}

static void test_eight_threads_confined_fifo_none_lost(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_start = engine_start;
  cfg.queue_capacity = 1024; /* small enough that blocking on a full queue happens too */
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));

  uint64_t per_thread = tu_scaled(100000);
  pthread_t th[NTHREADS];
  worker_arg wa[NTHREADS];
  uint64_t t0 = tu_now_ns();
  for (unsigned i = 0; i < NTHREADS; i++) {
    wa[i] = (worker_arg){rt, i, per_thread};
    CHECK(pthread_create(&th[i], NULL, submitter, &wa[i]) == 0);
  }
  for (unsigned i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);

  void *total = NULL;
  CHECK_OK(qthr_call(rt, engine_total, NULL, &total));
  double secs = (double)(tu_now_ns() - t0) / 1e9;
  printf("  %u threads x %" PRIu64 " jobs in %.2f s (%.0f jobs/s)\n", NTHREADS, per_thread, secs,
         (double)(NTHREADS * per_thread) / secs);
  CHECK_EQ((uint64_t)(uintptr_t)total, NTHREADS * per_thread);

  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  for (unsigned i = 0; i < NTHREADS; i++) CHECK_EQ(engine.next_seq[i], per_thread);

  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.submitted, NTHREADS * per_thread + 1);
  CHECK_EQ(st.completed, NTHREADS * per_thread + 1);
  CHECK_EQ(st.cancelled, 0);
  CHECK(st.queue_high_water <= 1024);
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(60);
  RUN(test_eight_threads_confined_fifo_none_lost);
  return 0;
}
