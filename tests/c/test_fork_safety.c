/* fork() under load: a child forked while other threads hammer qthr_call, wait, park and
 * log must be able to start and use new runtimes and set the log callback (no lock left
 * held by a thread the child does not have); a job that calls fork() ends the child's copy
 * of the worker when it returns, and nothing inherited runs again there.
 *
 * QTHR_FORKS (default 200) sets how many forks the storm makes; the reliability suite
 * runs it with 10000. */
#include "testutil.h"

#include <sys/mman.h>
#include <sys/wait.h>

static atomic_int g_stop;

static void *noop(void *arg) { return arg; }

static void *hammer(void *p) {
  qthr_runtime *rt = (qthr_runtime *)p;
  unsigned i = 0;
  while (!atomic_load(&g_stop)) {
    if (++i % 8 == 0) {
      qthr_future *f = NULL;
      CHECK_OK(qthr_submit(rt, noop, NULL, &f));
      CHECK_OK(qthr_wait(f, -1, NULL));
      qthr_future_free(f);
    } else {
      CHECK_OK(qthr_call(rt, noop, NULL, NULL));
    }
  }
  return NULL;
}

static atomic_long g_logged;
static void log_sink(void *ctx, qthr_log_level level, const char *msg) {
  (void)ctx, (void)level, (void)msg;
  atomic_fetch_add(&g_logged, 1);
}

/* Makes log records (runtime start/stop at INFO) again and again. */
static void *logger(void *p) {
  (void)p;
  while (!atomic_load(&g_stop)) {
    qthr_runtime *rt = NULL;
    CHECK_OK(qthr_init(NULL, &rt));
    qthr_free(rt);
  }
  return NULL;
}

static int child_main(qthr_runtime *inherited) {
  alarm(40); /* after the parent's 20 s limit, so that a hung child's stacks can be taken */
  if (qthr_call(inherited, noop, NULL, NULL) != QTHR_FORKED) return 10;
  qthr_set_log_callback(QTHR_LOG_INFO, NULL, NULL);
  qthr_set_log_callback(QTHR_LOG_INFO, log_sink, NULL);
  qthr_runtime *rt = NULL;
  if (qthr_init(NULL, &rt) != QTHR_OK) return 11;
  void *r = NULL;
  if (qthr_call(rt, noop, (void *)(intptr_t)5, &r) != QTHR_OK || (intptr_t)r != 5) return 12;
  qthr_future *f = NULL;
  if (qthr_submit(rt, noop, (void *)(intptr_t)6, &f) != QTHR_OK) return 13;
  if (qthr_wait(f, -1, &r) != QTHR_OK || (intptr_t)r != 6) return 14;
  qthr_future_free(f);
  qthr_free(rt);
  qthr_free(inherited);
  qthr_set_log_callback(QTHR_LOG_INFO, NULL, NULL);
  return 0;
}

/* Waits for a child for at most `ms`; kills it if it hangs. Returns its exit code, or -1. */
static int reap(pid_t pid, unsigned ms) {
  uint64_t until = tu_now_ns() + (uint64_t)ms * MS;
  for (;;) {
    int status = 0;
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
    if (tu_now_ns() > until) {
      /* A hung child is a bug to find: its threads' stacks (if gdb is installed) go to
       * stderr, which ctest --output-on-failure shows, before it is killed. */
      char cmd[200];
      snprintf(cmd, sizeof cmd,
               "command -v gdb >/dev/null 2>&1 && timeout 60 gdb -p %d -batch -nx "
               "-ex 'thread apply all bt' 1>&2 2>/dev/null",
               (int)pid);
      fprintf(stderr, "  child %d hung; its stacks:\n", (int)pid);
      if (system(cmd) != 0) fprintf(stderr, "  (no gdb, or it could not attach)\n");
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(200);
  }
}

static void test_fork_storm_under_load(void) {
  const char *env = getenv("QTHR_FORKS");
  int forks = env ? atoi(env) : 200;
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  qthr_set_log_callback(QTHR_LOG_INFO, log_sink, NULL);
  atomic_store(&g_stop, 0);
  enum { HAMMERS = 8 };
  pthread_t th[HAMMERS + 1];
  for (int i = 0; i < HAMMERS; i++) CHECK(pthread_create(&th[i], NULL, hammer, rt) == 0);
  CHECK(pthread_create(&th[HAMMERS], NULL, logger, NULL) == 0);
  int hung = 0, failed = 0;
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(child_main(rt));
    int rc = reap(pid, 20000);
    if (rc == -1) hung++;
    else if (rc != 0) {
      failed++;
      fprintf(stderr, "  child %d exited with %d\n", i, rc);
    }
  }
  atomic_store(&g_stop, 1);
  for (int i = 0; i <= HAMMERS; i++) pthread_join(th[i], NULL);
  qthr_set_log_callback(QTHR_LOG_INFO, NULL, NULL);
  printf("  %d forks under load: %d hung, %d failed (%ld log records in the parent)\n", forks,
         hung, failed, atomic_load(&g_logged));
  CHECK_EQ(hung, 0);
  CHECK_EQ(failed, 0);
  qthr_free(rt);
}

/* ---- fork() inside a job ------------------------------------------------------------- */

typedef struct shared_log {
  atomic_int ran_in_parent;
  atomic_int ran_in_child;
  atomic_int child_pid;
} shared_log;

static shared_log *g_shared;
static pid_t g_parent;

static void *record(void *arg) {
  (void)arg;
  if (getpid() == g_parent)
    atomic_fetch_add(&g_shared->ran_in_parent, 1);
  else
    atomic_fetch_add(&g_shared->ran_in_child, 1);
  return NULL;
}

static void *forking_job(void *arg) {
  tu_gate *gate = (tu_gate *)arg;
  tu_gate_wait(gate); /* the 5 jobs are queued behind us by now */
  pid_t pid = fork();
  if (pid == 0) {
    atomic_store(&g_shared->child_pid, (int)getpid());
    return NULL; /* back to the child's copy of the worker */
  }
  return (void *)(intptr_t)pid;
}

static void test_fork_inside_a_job(void) {
  g_shared = mmap(NULL, sizeof *g_shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                  -1, 0);
  CHECK(g_shared != MAP_FAILED);
  memset(g_shared, 0, sizeof *g_shared);
  g_parent = getpid();
  qthr_runtime *rt = NULL;
  CHECK_OK(qthr_init(NULL, &rt));
  tu_gate gate;
  tu_gate_init(&gate);
  qthr_future *f = NULL;
  CHECK_OK(qthr_submit(rt, forking_job, &gate, &f));
  for (int i = 0; i < 5; i++) CHECK_OK(qthr_submit(rt, record, NULL, NULL));
  tu_gate_open(&gate);
  void *r = NULL;
  CHECK_OK(qthr_wait(f, -1, &r));
  pid_t child = (pid_t)(intptr_t)r;
  CHECK(child > 0);
  int rc = reap(child, 10000);
  CHECK_MSG(rc != -1, "the child never exited");
  CHECK_EQ(rc, 0);
  CHECK_OK(qthr_call(rt, noop, NULL, NULL));
  CHECK_EQ(atomic_load(&g_shared->ran_in_parent), 5);
  CHECK_EQ(atomic_load(&g_shared->ran_in_child), 0);
  CHECK_EQ(atomic_load(&g_shared->child_pid), child);
  qthr_future_free(f);
  qthr_free(rt);
  tu_gate_destroy(&gate);
  munmap(g_shared, sizeof *g_shared);
}

int main(int argc, char **argv) {
  tu_watchdog(600);
  RUN(test_fork_inside_a_job);
  RUN(test_fork_storm_under_load);
  return 0;
}
