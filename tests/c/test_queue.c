/* A bounded queue: queue_capacity + nonblocking => QTHR_QUEUE_FULL with nothing queued;
 * blocking submitters wait for room and proceed when there is some; on the worker a
 * submit to its own full queue never waits; queue_len / queue_high_water. */
#include "testutil.h"

#include <sched.h>

#define CAP 4

static atomic_long g_ran;

static void test_nonblocking_queue_full(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = CAP;
  cfg.nonblocking = 1;
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(&cfg, &gate, &blocker);
  atomic_store(&g_ran, 0);

  /* The blocker is running (off the queue): exactly CAP jobs fit. */
  for (int i = 0; i < CAP; i++) CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, NULL));
  qthr_future *f = NULL;
  CHECK_ST(qthr_submit(rt, tu_job_count, &g_ran, &f), QTHR_QUEUE_FULL);
  CHECK_ST(qthr_submit(rt, tu_job_count, &g_ran, NULL), QTHR_QUEUE_FULL);
  void *res = NULL;
  CHECK_ST(qthr_call(rt, tu_job_count, &g_ran, &res), QTHR_QUEUE_FULL);
  qthr_fn fns[1] = {tu_job_count};
  void *args[1] = {&g_ran};
  CHECK_ST(qthr_submit_batch(rt, 1, fns, args, NULL), QTHR_QUEUE_FULL);

  qthr_stats st = tu_stats(rt);
  CHECK_EQ(st.queue_len, CAP);
  CHECK_EQ(st.queue_high_water, CAP);
  CHECK_EQ(st.submitted, CAP + 1); /* rejected submits are not counted */

  tu_gate_open(&gate);
  CHECK_OK(qthr_wait(blocker, -1, NULL));
  qthr_future_free(blocker);
  /* Room again once the worker pops a queued job (it may not have yet when the
   * blocker's waiter wakes up): a submit succeeds. */
  while (tu_stats(rt).queue_len == CAP) sched_yield();
  qthr_future *g = NULL;
  CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, &g));
  CHECK_OK(qthr_wait(g, -1, NULL));
  qthr_future_free(g);
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  CHECK_EQ(atomic_load(&g_ran), CAP + 1); /* nothing of the rejected submits ran */
  st = tu_stats(rt);
  CHECK_EQ(st.completed, CAP + 2);
  qthr_free(rt);
  tu_gate_destroy(&gate);
}

static void test_nonblocking_batch_all_or_nothing(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 8;
  cfg.nonblocking = 1;
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(&cfg, &gate, &blocker);
  atomic_store(&g_ran, 0);
  qthr_fn fns[5] = {tu_job_count, tu_job_count, tu_job_count, tu_job_count, tu_job_count};
  void *args[5] = {&g_ran, &g_ran, &g_ran, &g_ran, &g_ran};
  qthr_future *outs[5];
  CHECK_OK(qthr_submit_batch(rt, 5, fns, args, outs));
  /* 3 slots left, 5 asked: QUEUE_FULL means "nothing was queued". */
  qthr_future *outs2[5] = {0};
  CHECK_ST(qthr_submit_batch(rt, 5, fns, args, outs2), QTHR_QUEUE_FULL);
  CHECK_EQ(tu_stats(rt).queue_len, 5);
  tu_gate_open(&gate);
  for (int i = 0; i < 5; i++) {
    CHECK_OK(qthr_wait(outs[i], -1, NULL));
    qthr_future_free(outs[i]);
  }
  qthr_future_free(blocker);
  qthr_free(rt);
  CHECK_EQ(atomic_load(&g_ran), 5);
  tu_gate_destroy(&gate);
}

typedef struct {
  qthr_runtime *rt;
  atomic_int returned;
  qthr_status st;
} blocked_submit;

static void *submit_thread(void *p) {
  blocked_submit *b = (blocked_submit *)p;
  b->st = qthr_submit(b->rt, tu_job_count, &g_ran, NULL);
  atomic_store(&b->returned, 1);
  return NULL;
}

static void test_blocking_submit_waits_for_room(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 2;
  tu_gate gate;
  qthr_future *blocker = NULL;
  qthr_runtime *rt = tu_runtime_blocked(&cfg, &gate, &blocker);
  atomic_store(&g_ran, 0);
  CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, NULL));
  CHECK_OK(qthr_submit(rt, tu_job_count, &g_ran, NULL));

  blocked_submit b[3];
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    b[i].rt = rt;
    atomic_init(&b[i].returned, 0);
    b[i].st = QTHR_PANIC;
    CHECK(pthread_create(&th[i], NULL, submit_thread, &b[i]) == 0);
  }
  uint64_t cpu0 = tu_process_cpu_ns();
  tu_sleep_ms(150);
  uint64_t cpu = tu_process_cpu_ns() - cpu0;
  for (int i = 0; i < 3; i++) CHECK_MSG(!atomic_load(&b[i].returned), "submit did not wait for room");
  /* Waiting for room sleeps: 3 waiters + idle worker burnt well under one core. */
  CHECK_MSG(cpu < 75 * MS, "waiting submitters burnt %.1f ms CPU in 150 ms", (double)cpu / 1e6);
  CHECK_EQ(tu_stats(rt).queue_len, 2);

  tu_gate_open(&gate);
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    CHECK_OK(b[i].st);
  }
  CHECK_OK(qthr_wait(blocker, -1, NULL));
  qthr_future_free(blocker);
  qthr_free(rt);
  CHECK_EQ(atomic_load(&g_ran), 5);
  tu_gate_destroy(&gate);
}

typedef struct {
  qthr_runtime *rt;
  int accepted;
  qthr_status last;
} self_fill;

static void *job_fill_own_queue(void *p) {
  self_fill *s = (self_fill *)p;
  for (int i = 0; i < 100; i++) {
    qthr_status st = qthr_submit(s->rt, tu_job_count, &g_ran, NULL);
    s->last = st;
    if (st != QTHR_OK) break;
    s->accepted++;
  }
  return NULL;
}

static void test_worker_submit_to_own_full_queue(void) {
  /* A BLOCKING runtime: from the worker, a full queue still never waits. */
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 3;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(&cfg, &rt));
  atomic_store(&g_ran, 0);
  self_fill s = {rt, 0, QTHR_OK};
  CHECK_OK(qthr_call(rt, job_fill_own_queue, &s, NULL));
  CHECK_ST(s.last, QTHR_QUEUE_FULL);
  CHECK_EQ(s.accepted, 3);
  CHECK_OK(qthr_shutdown(rt, QTHR_DRAIN));
  CHECK_EQ(atomic_load(&g_ran), 3);
  qthr_free(rt);
}

int main(int argc, char **argv) {
  tu_watchdog(30);
  RUN(test_nonblocking_queue_full);
  RUN(test_nonblocking_batch_all_or_nothing);
  RUN(test_blocking_submit_waits_for_room);
  RUN(test_worker_submit_to_own_full_queue);
  return 0;
}
