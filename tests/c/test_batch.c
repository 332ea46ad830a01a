/* qthr_submit_batch: outs NULL (fire and forget) or n slots, each future with its own
 * job's result; the jobs run in array order, FIFO with the thread's other submits; a
 * batch larger than the queue never hangs; bad arguments. */
#include "testutil.h"

#define N 300

/* Worker-only log of the order jobs ran in. */
static int g_log[4 * N];
static int g_log_len;

static void *job_log(void *arg) {
  g_log[g_log_len++] = (int)(intptr_t)arg;
  return (void *)((intptr_t)arg * 3);
}

static void *job_reset(void *arg) {
  (void)arg;
  g_log_len = 0;
  return NULL;
}

static void *job_len(void *arg) {
  (void)arg;
  return (void *)(intptr_t)g_log_len;
}

static void test_batch_with_outs(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  CHECK_OK(qthr_call(rt, job_reset, NULL, NULL));
  qthr_fn fns[N];
  void *args[N];
  qthr_future *outs[N];
  for (int i = 0; i < N; i++) {
    fns[i] = job_log;
    args[i] = (void *)(intptr_t)i;
    outs[i] = NULL;
  }
  CHECK_OK(qthr_submit_batch(rt, N, fns, args, outs));
  for (int i = 0; i < N; i++) {
    CHECK(outs[i] != NULL);
    for (int j = 0; j < i; j++) CHECK(outs[j] != outs[i]);
  }
  for (int i = N - 1; i >= 0; i--) { /* wait in reverse: each future has its own result */
    void *res = NULL;
    CHECK_OK(qthr_wait(outs[i], -1, &res));
    CHECK_EQ((intptr_t)res, 3 * i);
    qthr_future_free(outs[i]);
  }
  void *len = NULL;
  CHECK_OK(qthr_call(rt, job_len, NULL, &len));
  CHECK_EQ((intptr_t)len, N);
  for (int i = 0; i < N; i++) CHECK_EQ(g_log[i], i);
  qthr_free(rt);
}

static void test_batch_fire_and_forget_fifo_with_submits(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  CHECK_OK(qthr_call(rt, job_reset, NULL, NULL));
  qthr_fn fns[N];
  void *args[N];
  for (int i = 0; i < N; i++) fns[i] = job_log;
  /* submit 0..N-1 singly and in batches of different sizes, interleaved */
  int next = 0;
  int sizes[] = {1, 7, 1, 64, 2, 100, 1, 50};
  for (unsigned k = 0; next < 3 * N; k++) {
    int n = sizes[k % (sizeof sizes / sizeof sizes[0])];
    if (next + n > 3 * N) n = 3 * N - next;
    if (k % 2 == 0) {
      for (int i = 0; i < n; i++) CHECK_OK(qthr_submit(rt, job_log, (void *)(intptr_t)(next + i), NULL));
    } else {
      for (int i = 0; i < n; i++) args[i] = (void *)(intptr_t)(next + i);
      CHECK_OK(qthr_submit_batch(rt, (size_t)n, fns, args, NULL));
    }
    next += n;
  }
  void *len = NULL;
  CHECK_OK(qthr_call(rt, job_len, NULL, &len));
  CHECK_EQ((intptr_t)len, 3 * N);
  for (int i = 0; i < 3 * N; i++) CHECK_MSG(g_log[i] == i, "position %d ran job %d", i, g_log[i]);
  qthr_free(rt);
}

static void test_batch_larger_than_queue(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 16;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  CHECK_OK(qthr_call(rt, job_reset, NULL, NULL));
  qthr_fn fns[N];
  void *args[N];
  qthr_future *outs[N];
  for (int i = 0; i < N; i++) {
    fns[i] = job_log;
    args[i] = (void *)(intptr_t)i;
  }
  /* blocking runtime, n > capacity: either it feeds the queue as room appears (all run,
   * in order) or it refuses the whole batch; it must not hang. */
  qthr_status st = qthr_submit_batch(rt, N, fns, args, outs);
  void *len = NULL;
  CHECK_OK(qthr_call(rt, job_len, NULL, &len));
  if (st == QTHR_OK) {
    CHECK_EQ((intptr_t)len, N);
    for (int i = 0; i < N; i++) {
      CHECK_EQ(g_log[i], i);
      CHECK_OK(qthr_wait(outs[i], 0, NULL));
      qthr_future_free(outs[i]);
    }
  } else {
    printf("  a batch larger than the queue: %s\n", qthr_status_str(st));
    CHECK(st == QTHR_INVALID_ARGUMENT || st == QTHR_QUEUE_FULL);
    CHECK_EQ((intptr_t)len, 0);
  }
  qthr_free(rt);
}

static void test_batch_bad_arguments(void) {
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  CHECK_OK(qthr_call(rt, job_reset, NULL, NULL));
  qthr_fn fns[2] = {job_log, NULL};
  void *args[2] = {(void *)1, (void *)2};
  qthr_future *outs[2];
  CHECK_ST(qthr_submit_batch(NULL, 1, fns, args, NULL), QTHR_INVALID_ARGUMENT);
  CHECK_ST(qthr_submit_batch(rt, 1, NULL, args, NULL), QTHR_INVALID_ARGUMENT);
  /* a NULL function anywhere refuses the whole batch: nothing queued */
  CHECK_ST(qthr_submit_batch(rt, 2, fns, args, outs), QTHR_INVALID_ARGUMENT);
  /* n == 0: nothing to do, nothing queued */
  qthr_status z = qthr_submit_batch(rt, 0, fns, args, NULL);
  CHECK(z == QTHR_OK || z == QTHR_INVALID_ARGUMENT);
  void *len = NULL;
  CHECK_OK(qthr_call(rt, job_len, NULL, &len));
  CHECK_EQ((intptr_t)len, 0);
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_batch_with_outs);
  RUN(test_batch_fire_and_forget_fifo_with_submits);
  RUN(test_batch_larger_than_queue);
  RUN(test_batch_bad_arguments);
  return 0;
}
