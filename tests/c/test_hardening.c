/* Hostile use that must neither hang nor abort (issue: core hardening): re-entrant log
 * callbacks, lifecycle calls between runtimes that call each other, a flooded calls lane,
 * nesting past the cap, a cancelling shutdown behind a cycle, a full notification pipe. */
#include "testutil.h"

#include <fcntl.h>

/* ---- log callbacks that call back into qthr ------------------------------------------- */

static atomic_int g_log_calls;

static void log_remove_self(void *ctx, qthr_log_level level, const char *msg) {
  (void)ctx, (void)level, (void)msg;
  atomic_fetch_add(&g_log_calls, 1);
  qthr_set_log_callback(QTHR_LOG_INFO, NULL, NULL); /* removes itself: must not hang */
}

static void log_count(void *ctx, qthr_log_level level, const char *msg) {
  (void)level, (void)msg;
  atomic_fetch_add((atomic_int *)ctx, 1);
}

static void log_replace_self(void *ctx, qthr_log_level level, const char *msg) {
  (void)level, (void)msg;
  atomic_fetch_add(&g_log_calls, 1);
  qthr_set_log_callback(QTHR_LOG_INFO, log_count, ctx);
}

static void test_log_callback_replaces_or_removes_itself(void) {
  atomic_store(&g_log_calls, 0);
  qthr_set_log_callback(QTHR_LOG_INFO, log_remove_self, NULL);
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt)); /* logs "worker started" */
  qthr_free(rt);                  /* would log again, but the callback removed itself */
  CHECK_EQ(atomic_load(&g_log_calls), 1);

  atomic_int counted;
  atomic_init(&counted, 0);
  atomic_store(&g_log_calls, 0);
  qthr_set_log_callback(QTHR_LOG_INFO, log_replace_self, &counted);
  CHECK_OK(qthr_init(NULL, &rt));
  qthr_free(rt);
  CHECK_EQ(atomic_load(&g_log_calls), 1);
  CHECK(atomic_load(&counted) >= 1); /* the replacement got the later records */
  qthr_set_log_callback(QTHR_LOG_INFO, NULL, NULL);
}

/* A callback (on thread T) calls qthr_call(L) while a job on L replaces the callback: the
 * job must not wait for T's callback, which waits for L. */
static qthr_runtime *g_l;
static atomic_int g_in_callback;

static void *noop(void *arg) { return arg; }

static void log_calls_l(void *ctx, qthr_log_level level, const char *msg) {
  (void)ctx, (void)level, (void)msg;
  if (atomic_exchange(&g_in_callback, 1) == 0) CHECK_OK(qthr_call(g_l, noop, NULL, NULL));
}

static void *job_sets_callback(void *arg) {
  (void)arg;
  CHECK(WAIT_UNTIL(atomic_load(&g_in_callback) == 1, 5000));
  tu_sleep_ms(20); /* T is now inside qthr_call(L), waiting for this worker */
  qthr_set_log_callback(QTHR_LOG_INFO, NULL, NULL);
  return NULL;
}

static void *thread_that_logs(void *arg) {
  (void)arg;
  qthr_runtime *other = NULL;
  CHECK_OK(qthr_init(NULL, &other)); /* its "started" record is logged on this thread */
  qthr_free(other);
  return NULL;
}

static void test_log_callback_calls_into_a_runtime_that_sets_it(void) {
  CHECK_OK(qthr_init(NULL, &g_l));
  atomic_store(&g_in_callback, 0);
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(g_l, job_sets_callback, NULL, &f));
  qthr_set_log_callback(QTHR_LOG_INFO, log_calls_l, NULL);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, thread_that_logs, NULL) == 0);
  CHECK_OK(qthr_wait(f, -1, NULL));
  pthread_join(t, NULL);
  qthr_future_free(f);
  qthr_set_log_callback(QTHR_LOG_INFO, NULL, NULL);
  qthr_free(g_l);
}

/* ---- lifecycle calls between runtimes calling each other ------------------------------- */

static qthr_runtime *g_a;
static atomic_int g_hook_calls;

static int start_calls_a(void *ctx) {
  (void)ctx;
  CHECK_OK(qthr_call(g_a, noop, NULL, NULL)); /* A's worker is inside qthr_init(C) */
  atomic_fetch_add(&g_hook_calls, 1);
  return 0;
}

static void stop_calls_a(void *ctx) {
  (void)ctx;
  CHECK_OK(qthr_call(g_a, noop, NULL, NULL)); /* A's worker is inside qthr_free(C) */
  atomic_fetch_add(&g_hook_calls, 1);
}

static void *job_starts_and_frees_c(void *arg) {
  (void)arg;
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.on_start = start_calls_a;
  cfg.on_stop = stop_calls_a;
  qthr_runtime *c = NULL;
  CHECK_OK(qthr_init(&cfg, &c));
  CHECK_OK(qthr_call(c, noop, NULL, NULL));
  qthr_free(c);
  return NULL;
}

static void test_init_and_free_from_a_job_whose_hooks_call_back(void) {
  CHECK_OK(qthr_init(NULL, &g_a));
  atomic_store(&g_hook_calls, 0);
  CHECK_OK(qthr_call(g_a, job_starts_and_frees_c, NULL, NULL));
  CHECK_EQ(atomic_load(&g_hook_calls), 2);
  qthr_free(g_a);
}

/* ---- fairness: another worker flooding the calls lane ---------------------------------- */

static atomic_int g_flood_stop;
static atomic_long g_flooded;

/* A calls-lane job that takes a while, so the lane never runs dry. */
static void *slow_count(void *arg) {
  uint64_t until = tu_now_ns() + 20000;
  while (tu_now_ns() < until) {
  }
  atomic_fetch_add((atomic_long *)arg, 1);
  return NULL;
}

/* On B's worker: floods A's calls lane for up to 2 s (until told to stop), refilling it as
 * soon as there is room, so that it is never empty. */
static void *flood_job(void *arg) {
  qthr_runtime *a = (qthr_runtime *)arg;
  uint64_t until = tu_now_ns() + 2000 * MS;
  while (!atomic_load(&g_flood_stop) && tu_now_ns() < until)
    CHECK_OK(qthr_submit(a, slow_count, &g_flooded, NULL));
  return NULL;
}

static void test_a_flooded_calls_lane_leaves_the_main_lane_a_turn(void) {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.queue_capacity = 1024; /* 20 ms of calls-lane work: the flooders refill in time */
  qthr_runtime *a = NULL, *b = NULL, *b2 = NULL;
  CHECK_OK(qthr_init(&cfg, &a));
  CHECK_OK(qthr_init(NULL, &b));
  CHECK_OK(qthr_init(NULL, &b2));
  atomic_store(&g_flood_stop, 0);
  atomic_store(&g_flooded, 0);
  /* Two other runtimes' workers: while one waits for room, the other refills. */
  qthr_future *flood = NULL, *flood2 = NULL;
  CHECK_OK(qthr_submit(b, flood_job, a, &flood));
  CHECK_OK(qthr_submit(b2, flood_job, a, &flood2));
  CHECK(WAIT_UNTIL(tu_stats(a).queue_len > 900, 5000));
  uint64_t worst = 0;
  for (int i = 0; i < 50; i++) {
    uint64_t t0 = tu_now_ns();
    qthr_future *f = NULL;
    CHECK_OK(qthr_submit(a, noop, NULL, &f));
    CHECK_OK(qthr_wait(f, -1, NULL));
    uint64_t took = tu_now_ns() - t0;
    if (took > worst) worst = took;
    qthr_future_free(f);
  }
  long during = atomic_load(&g_flooded);
  atomic_store(&g_flood_stop, 1);
  CHECK_OK(qthr_wait(flood, -1, NULL));
  CHECK_OK(qthr_wait(flood2, -1, NULL));
  qthr_future_free(flood);
  qthr_future_free(flood2);
  printf("  worst main-lane submit+wait during the flood: %.2f ms (%ld flood jobs)\n",
         worst / 1e6, during);
  /* The bound: a main-lane job waits for at most 16 calls-lane jobs in a row (~0.3 ms
   * here), not for the flood (2 s without the rule); 500 ms leaves room for a loaded
   * machine. */
  CHECK_MSG(worst < 500 * MS, "a main-lane job waited %.1f ms behind the flood", worst / 1e6);
  qthr_free(a);
  qthr_free(b);
  qthr_free(b2);
}

/* ---- nesting past the cap ------------------------------------------------------------- */

static qthr_runtime *g_ping[2];
static atomic_int g_deepest;
static atomic_int g_refused;

static void *ping(void *arg) {
  intptr_t depth = (intptr_t)arg;
  if (depth > atomic_load(&g_deepest)) atomic_store(&g_deepest, (int)depth);
  if (depth >= 400) return arg;
  void *r = NULL;
  qthr_status st = qthr_call(g_ping[(depth + 1) % 2], ping, (void *)(depth + 1), &r);
  if (st == QTHR_WOULD_DEADLOCK) {
    atomic_fetch_add(&g_refused, 1);
    return arg;
  }
  CHECK_OK(st);
  return r;
}

static void test_nesting_past_the_cap_is_refused_at_once(void) {
  CHECK_OK(qthr_init(NULL, &g_ping[0]));
  CHECK_OK(qthr_init(NULL, &g_ping[1]));
  atomic_store(&g_deepest, 0);
  atomic_store(&g_refused, 0);
  uint64_t t0 = tu_now_ns();
  void *r = NULL;
  CHECK_OK(qthr_call(g_ping[0], ping, (void *)(intptr_t)0, &r));
  printf("  chain reached depth %d, refused %d time(s), %.1f ms\n", atomic_load(&g_deepest),
         atomic_load(&g_refused), (tu_now_ns() - t0) / 1e6);
  CHECK_EQ(atomic_load(&g_refused), 1);
  CHECK(atomic_load(&g_deepest) >= 64 && atomic_load(&g_deepest) < 400);
  qthr_free(g_ping[0]);
  qthr_free(g_ping[1]);
}

/* ---- QTHR_CANCEL behind a cycle through the main queue --------------------------------- */

/* A's job waits for B's job, which waits for a job queued behind it on A's main queue. */
static qthr_runtime *g_ca, *g_cb;
static qthr_future *volatile g_behind;

static void *b_waits_for_behind(void *arg) {
  (void)arg;
  return (void *)(intptr_t)qthr_wait(g_behind, -1, NULL);
}

static void *a_waits_for_b(void *arg) {
  (void)arg;
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(g_cb, b_waits_for_behind, NULL, &f));
  void *r = NULL;
  qthr_status st = qthr_wait(f, -1, &r);
  qthr_future_free(f);
  CHECK_OK(st);
  return r;
}

static void test_cancel_shutdown_breaks_a_cycle_through_the_main_queue(void) {
  CHECK_OK(qthr_init(NULL, &g_ca));
  CHECK_OK(qthr_init(NULL, &g_cb));
  qthr_future *behind = NULL, *top = NULL;
  tu_gate gate;
  tu_gate_init(&gate);
  /* Queue `behind` on A before `top` runs, by holding A's worker with a gate first. */
  qthr_future *hold = NULL;
  CHECK_OK(qthr_submit(g_ca, tu_job_gate, &gate, &hold));
  CHECK(WAIT_UNTIL(atomic_load(&gate.waiting) == 1, 5000));
  CHECK_OK(qthr_submit(g_ca, a_waits_for_b, NULL, &top));
  CHECK_OK(qthr_submit(g_ca, noop, NULL, &behind));
  g_behind = behind;
  tu_gate_open(&gate);
  tu_sleep_ms(50); /* top waits for B, B waits for behind: a cycle */
  CHECK_ST(qthr_wait(top, 0, NULL), QTHR_TIMEOUT);
  uint64_t t0 = tu_now_ns();
  CHECK_OK(qthr_shutdown(g_ca, QTHR_CANCEL)); /* cancels `behind` at once: the cycle ends */
  CHECK_MSG(tu_now_ns() - t0 < 5000 * MS, "shutdown took too long");
  CHECK_ST(qthr_wait(behind, 0, NULL), QTHR_CANCELLED);
  void *r = NULL;
  CHECK_OK(qthr_wait(top, 0, &r));
  CHECK_EQ((intptr_t)r, QTHR_CANCELLED); /* what B's wait for `behind` returned */
  qthr_future_free(hold);
  qthr_future_free(top);
  qthr_future_free(behind);
  qthr_free(g_ca);
  qthr_free(g_cb);
  tu_gate_destroy(&gate);
}

/* ---- qthr_then_notify_fd on a full blocking pipe -------------------------------------- */

static void test_notify_fd_never_blocks_the_worker(void) {
  int p[2];
  CHECK(pipe(p) == 0);
  /* Fill the (blocking) pipe. */
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  char buf[4096];
  memset(buf, 0, sizeof buf);
  while (write(p[1], buf, sizeof buf) > 0) {
  }
  fcntl(p[1], F_SETFL, 0); /* blocking again, and full */
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  qthr_future *fs[16];
  for (int i = 0; i < 16; i++) {
    CHECK_OK(qthr_submit(rt, noop, NULL, &fs[i]));
    CHECK_OK(qthr_future_then(fs[i], qthr_then_notify_fd, (void *)(intptr_t)p[1]));
  }
  uint64_t t0 = tu_now_ns();
  CHECK_OK(qthr_call(rt, noop, NULL, NULL)); /* the worker got past every callback */
  CHECK_MSG(tu_now_ns() - t0 < 5000 * MS, "the worker stalled on the full pipe");
  for (int i = 0; i < 16; i++) qthr_future_free(fs[i]);
  qthr_free(rt);
  close(p[0]);
  close(p[1]);
}

static void test_version_macro(void) {
  CHECK_EQ(QTHR_VERSION, qthr_version());
  CHECK_EQ(sizeof(qthr_shutdown_mode), 4);
}

int main(int argc, char **argv) {
  tu_watchdog(120);
  RUN(test_version_macro);
  RUN(test_log_callback_replaces_or_removes_itself);
  RUN(test_log_callback_calls_into_a_runtime_that_sets_it);
  RUN(test_init_and_free_from_a_job_whose_hooks_call_back);
  RUN(test_a_flooded_calls_lane_leaves_the_main_lane_a_turn);
  RUN(test_nesting_past_the_cap_is_refused_at_once);
  RUN(test_cancel_shutdown_breaks_a_cycle_through_the_main_queue);
  RUN(test_notify_fd_never_blocks_the_worker);
  return 0;
}
