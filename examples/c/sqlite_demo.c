/* qthr demo: one SQLite connection, opened WITHOUT mutexes (SQLITE_OPEN_NOMUTEX) on the
 * qthr worker in on_start, so it belongs to that thread alone; N threads insert rows
 * through qthr, synchronously (qthr_call) and pipelined (qthr_submit windows,
 * qthr_submit_batch). The same workload also runs through a plain mutex + condition
 * variable executor written below (the usual hand-rolled approach), and the two are
 * compared: rows/s, and p50/p99 latency per row.
 *
 *   sqlite_demo [-t threads] [-n rows] [-w window] [-d dir] [-k]
 *     -t  submitting threads (default 8)       -n  rows per mode (default 100000)
 *     -w  pipeline window / batch size (64)    -d  directory for the databases
 *     -k  keep the database files
 * Exit status 0 only if every mode stored exactly the rows sent. */
#define _GNU_SOURCE 1
#include <qthr.h>
#include <sqlite3.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "sqlite_demo: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(2);
}

/* ---- the engine: a SQLite connection that only its owner thread may touch ------------ */

typedef struct engine {
  char path[512];
  sqlite3 *db;
  sqlite3_stmt *insert, *count, *clear;
  pthread_t owner;
  int open;
} engine;

typedef struct row {
  int64_t tid, seq;
} row;

static void engine_assert_owner(const engine *e) {
  if (!e->open || !pthread_equal(pthread_self(), e->owner)) {
    fprintf(stderr, "sqlite_demo: the connection was used off its thread\n");
    abort();
  }
}

static int engine_open(engine *e) {
  e->owner = pthread_self();
  int rc = sqlite3_open_v2(e->path, &e->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "sqlite_demo: open %s: %s\n", e->path, sqlite3_errstr(rc));
    return 1;
  }
  const char *setup =
      "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
      "CREATE TABLE IF NOT EXISTS rows(tid INTEGER NOT NULL, seq INTEGER NOT NULL, payload TEXT);"
      "DELETE FROM rows;";
  char *err = NULL;
  if (sqlite3_exec(e->db, setup, NULL, NULL, &err) != SQLITE_OK ||
      sqlite3_prepare_v2(e->db, "INSERT INTO rows(tid, seq, payload) VALUES(?1, ?2, 'qthr')", -1,
                         &e->insert, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(e->db, "SELECT count(*), coalesce(sum(seq), 0) FROM rows", -1, &e->count,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(e->db, "DELETE FROM rows", -1, &e->clear, NULL) != SQLITE_OK) {
    fprintf(stderr, "sqlite_demo: setup: %s\n", err ? err : sqlite3_errmsg(e->db));
    sqlite3_free(err);
    return 1;
  }
  e->open = 1;
  return 0;
}

static void engine_close(engine *e) {
  engine_assert_owner(e);
  sqlite3_finalize(e->insert);
  sqlite3_finalize(e->count);
  sqlite3_finalize(e->clear);
  sqlite3_close(e->db);
  e->open = 0;
}

/* qthr hooks: run on the worker. */
static int on_start(void *ctx) { return engine_open((engine *)ctx); }
static void on_stop(void *ctx) { engine_close((engine *)ctx); }

/* The jobs. The engine is reached through a global per executor (set before any job). */
static engine g_qthr_engine, g_mx_engine;
static __thread engine *t_engine; /* which engine the current worker thread owns */

static void *job_insert(void *arg) {
  const row *r = (const row *)arg;
  engine *e = t_engine;
  engine_assert_owner(e);
  sqlite3_bind_int64(e->insert, 1, r->tid);
  sqlite3_bind_int64(e->insert, 2, r->seq);
  int rc = sqlite3_step(e->insert);
  sqlite3_reset(e->insert);
  return (void *)(intptr_t)(rc == SQLITE_DONE ? 1 : -rc);
}

typedef struct {
  int64_t count, sum;
} counts;

static void *job_count(void *arg) {
  engine *e = t_engine;
  engine_assert_owner(e);
  counts *c = (counts *)arg;
  c->count = c->sum = -1;
  if (sqlite3_step(e->count) == SQLITE_ROW) {
    c->count = sqlite3_column_int64(e->count, 0);
    c->sum = sqlite3_column_int64(e->count, 1);
  }
  sqlite3_reset(e->count);
  return arg;
}

static void *job_clear(void *arg) {
  engine *e = t_engine;
  engine_assert_owner(e);
  int rc = sqlite3_step(e->clear);
  sqlite3_reset(e->clear);
  (void)arg;
  return (void *)(intptr_t)(rc == SQLITE_DONE);
}

static int qthr_on_start(void *ctx) {
  t_engine = (engine *)ctx;
  return on_start(ctx);
}

/* ---- the baseline: a queue under a mutex, the worker waits on a condvar, and each call
 * has its own condvar for the reply ------------------------------------------------------ */

typedef struct mx_job {
  qthr_fn fn;
  void *arg;
  void *res;
  int done;
  pthread_cond_t cv; /* the reply */
  struct mx_job *next;
} mx_job;

typedef struct mx {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  mx_job *head, *tail;
  int stop, started, start_rc;
  pthread_t thread;
  engine *e;
} mx;

static void *mx_main(void *p) {
  mx *m = (mx *)p;
  t_engine = m->e;
  int rc = engine_open(m->e);
  pthread_mutex_lock(&m->mu);
  m->started = 1;
  m->start_rc = rc;
  pthread_cond_broadcast(&m->cv);
  if (rc != 0) {
    pthread_mutex_unlock(&m->mu);
    return NULL;
  }
  for (;;) {
    while (!m->head && !m->stop) pthread_cond_wait(&m->cv, &m->mu);
    if (!m->head) break;
    mx_job *j = m->head;
    m->head = j->next;
    if (!m->head) m->tail = NULL;
    pthread_mutex_unlock(&m->mu);
    void *res = j->fn(j->arg);
    pthread_mutex_lock(&m->mu);
    j->res = res;
    j->done = 1;
    pthread_cond_signal(&j->cv);
  }
  pthread_mutex_unlock(&m->mu);
  engine_close(m->e);
  return NULL;
}

static int mx_init(mx *m, engine *e) {
  memset(m, 0, sizeof *m);
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  m->e = e;
  if (pthread_create(&m->thread, NULL, mx_main, m) != 0) return 1;
  pthread_mutex_lock(&m->mu);
  while (!m->started) pthread_cond_wait(&m->cv, &m->mu);
  int rc = m->start_rc;
  pthread_mutex_unlock(&m->mu);
  if (rc) pthread_join(m->thread, NULL);
  return rc;
}

static void mx_job_init(mx_job *j) {
  memset(j, 0, sizeof *j);
  pthread_cond_init(&j->cv, NULL);
}

/* Enqueues n jobs under one lock (n == 1: a plain submit). */
static void mx_submit(mx *m, mx_job *const *jobs, size_t n) {
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < n; i++) {
    mx_job *j = jobs[i];
    j->done = 0;
    j->next = NULL;
    if (m->tail) m->tail->next = j;
    else m->head = j;
    m->tail = j;
  }
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
}

static void *mx_wait(mx *m, mx_job *j) {
  pthread_mutex_lock(&m->mu);
  while (!j->done) pthread_cond_wait(&j->cv, &m->mu);
  void *res = j->res;
  pthread_mutex_unlock(&m->mu);
  return res;
}

static void *mx_call(mx *m, qthr_fn fn, void *arg) {
  mx_job j;
  mx_job_init(&j);
  j.fn = fn;
  j.arg = arg;
  mx_job *p = &j;
  mx_submit(m, &p, 1);
  void *res = mx_wait(m, &j);
  pthread_cond_destroy(&j.cv);
  return res;
}

static void mx_free(mx *m) {
  pthread_mutex_lock(&m->mu);
  m->stop = 1;
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
  pthread_join(m->thread, NULL);
}

/* ---- the workload ------------------------------------------------------------------- */

enum mode { MODE_CALL, MODE_SUBMIT, MODE_BATCH, NMODES };
static const char *mode_name[NMODES] = {"call (sync)", "submit window", "submit_batch"};
enum executor { EX_QTHR, EX_MX };

typedef struct {
  enum executor ex;
  enum mode mode;
  qthr_runtime *rt;
  mx *m;
  int64_t tid, rows;
  size_t window;
  uint64_t *lat; /* per-row latency, ns */
  int64_t failures;
} thread_arg;

static void *run_thread(void *p) {
  thread_arg *a = (thread_arg *)p;
  size_t w = a->window;
  row *rows = calloc(w, sizeof *rows);
  qthr_future **futs = calloc(w, sizeof *futs);
  qthr_fn *fns = calloc(w, sizeof *fns);
  void **args = calloc(w, sizeof *args);
  mx_job *jobs = calloc(w, sizeof *jobs);
  mx_job **jp = calloc(w, sizeof *jp);
  uint64_t *t0 = calloc(w, sizeof *t0);
  if (!rows || !futs || !fns || !args || !jobs || !jp || !t0) die("out of memory", NULL);
  for (size_t i = 0; i < w; i++) {
    fns[i] = job_insert;
    args[i] = &rows[i];
    mx_job_init(&jobs[i]);
    jobs[i].fn = job_insert;
    jobs[i].arg = &rows[i];
    jp[i] = &jobs[i];
  }
  int64_t seq = 0;
  while (seq < a->rows) {
    if (a->mode == MODE_CALL) {
      row r = {a->tid, seq};
      uint64_t s = now_ns();
      void *res = NULL;
      if (a->ex == EX_QTHR) {
        qthr_status st = qthr_call(a->rt, job_insert, &r, &res);
        if (st != QTHR_OK) die("qthr_call", qthr_status_str(st));
      } else {
        res = mx_call(a->m, job_insert, &r);
      }
      a->lat[seq] = now_ns() - s;
      if ((intptr_t)res != 1) a->failures++;
      seq++;
      continue;
    }
    size_t n = (size_t)(a->rows - seq) < w ? (size_t)(a->rows - seq) : w;
    for (size_t i = 0; i < n; i++) rows[i] = (row){a->tid, seq + (int64_t)i};
    uint64_t s = now_ns();
    if (a->ex == EX_QTHR) {
      if (a->mode == MODE_BATCH) {
        qthr_status st = qthr_submit_batch(a->rt, n, fns, args, futs);
        if (st != QTHR_OK) die("qthr_submit_batch", qthr_status_str(st));
        for (size_t i = 0; i < n; i++) t0[i] = s;
      } else {
        for (size_t i = 0; i < n; i++) {
          t0[i] = now_ns();
          qthr_status st = qthr_submit(a->rt, job_insert, &rows[i], &futs[i]);
          if (st != QTHR_OK) die("qthr_submit", qthr_status_str(st));
        }
      }
      for (size_t i = 0; i < n; i++) {
        void *res = NULL;
        qthr_status st = qthr_wait(futs[i], -1, &res);
        a->lat[seq + (int64_t)i] = now_ns() - t0[i];
        if (st != QTHR_OK || (intptr_t)res != 1) a->failures++;
        qthr_future_free(futs[i]);
      }
    } else {
      if (a->mode == MODE_BATCH) {
        mx_submit(a->m, jp, n);
        for (size_t i = 0; i < n; i++) t0[i] = s;
      } else {
        for (size_t i = 0; i < n; i++) {
          t0[i] = now_ns();
          mx_submit(a->m, &jp[i], 1);
        }
      }
      for (size_t i = 0; i < n; i++) {
        void *res = mx_wait(a->m, &jobs[i]);
        a->lat[seq + (int64_t)i] = now_ns() - t0[i];
        if ((intptr_t)res != 1) a->failures++;
      }
    }
    seq += (int64_t)n;
  }
  for (size_t i = 0; i < w; i++) pthread_cond_destroy(&jobs[i].cv);
  free(rows);
  free(futs);
  free(fns);
  free(args);
  free(jobs);
  free(jp);
  free(t0);
  return NULL;
}

typedef struct {
  double rows_per_s;
  double p50_us, p99_us;
  int ok;
} result;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void *exec_call(enum executor ex, qthr_runtime *rt, mx *m, qthr_fn fn, void *arg) {
  if (ex == EX_MX) return mx_call(m, fn, arg);
  void *res = NULL;
  qthr_status st = qthr_call(rt, fn, arg, &res);
  if (st != QTHR_OK) die("qthr_call", qthr_status_str(st));
  return res;
}

static result run_mode(enum executor ex, enum mode mode, qthr_runtime *rt, mx *m, int threads,
                       int64_t total, size_t window) {
  pthread_t *th = calloc((size_t)threads, sizeof *th);
  thread_arg *ta = calloc((size_t)threads, sizeof *ta);
  uint64_t *lat = calloc((size_t)total, sizeof *lat);
  if (!th || !ta || !lat) die("out of memory", NULL);
  exec_call(ex, rt, m, job_clear, NULL);
  int64_t off = 0, expect_sum = 0;
  for (int i = 0; i < threads; i++) {
    int64_t n = total / threads + (i < total % threads ? 1 : 0);
    ta[i] = (thread_arg){ex, mode, rt, m, i, n, window, lat + off, 0};
    off += n;
    expect_sum += n * (n - 1) / 2;
  }
  uint64_t t0 = now_ns();
  for (int i = 0; i < threads; i++)
    if (pthread_create(&th[i], NULL, run_thread, &ta[i]) != 0) die("pthread_create", strerror(errno));
  int64_t failures = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    failures += ta[i].failures;
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  counts c;
  exec_call(ex, rt, m, job_count, &c);
  result r;
  r.ok = failures == 0 && c.count == total && c.sum == expect_sum;
  if (!r.ok)
    fprintf(stderr,
            "sqlite_demo: %s via %s: %" PRId64 " failed inserts; SELECT count(*) = %" PRId64
            " (sent %" PRId64 "), sum(seq) = %" PRId64 " (expected %" PRId64 ")\n",
            mode_name[mode], ex == EX_QTHR ? "qthr" : "mutex+condvar", failures, c.count, total,
            c.sum, expect_sum);
  qsort(lat, (size_t)total, sizeof *lat, cmp_u64);
  r.rows_per_s = (double)total / secs;
  r.p50_us = (double)lat[(size_t)((double)total * 0.50)] / 1e3;
  r.p99_us = (double)lat[(size_t)((double)(total - 1) * 0.99)] / 1e3;
  free(th);
  free(ta);
  free(lat);
  return r;
}

static void usage(void) {
  fprintf(stderr, "usage: sqlite_demo [-t threads] [-n rows] [-w window] [-d dir] [-k]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int threads = 8, keep = 0;
  long long rows = 100000, window = 64;
  const char *dir = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "t:n:w:d:kh")) != -1) {
    switch (opt) {
      case 't': threads = atoi(optarg); break;
      case 'n': rows = atoll(optarg); break;
      case 'w': window = atoll(optarg); break;
      case 'd': dir = optarg; break;
      case 'k': keep = 1; break;
      default: usage();
    }
  }
  if (threads < 1 || rows < 1 || window < 1) usage();

  char tmpl[] = "/tmp/qthr-sqlite-demo-XXXXXX";
  char dirbuf[400];
  if (dir) {
    snprintf(dirbuf, sizeof dirbuf, "%s", dir);
  } else {
    const char *tmp = getenv("TMPDIR");
    if (tmp && *tmp) {
      snprintf(dirbuf, sizeof dirbuf, "%s/qthr-sqlite-demo-XXXXXX", tmp);
      if (!mkdtemp(dirbuf)) die("mkdtemp", strerror(errno));
    } else {
      if (!mkdtemp(tmpl)) die("mkdtemp", strerror(errno));
      snprintf(dirbuf, sizeof dirbuf, "%s", tmpl);
    }
  }
  snprintf(g_qthr_engine.path, sizeof g_qthr_engine.path, "%s/qthr.db", dirbuf);
  snprintf(g_mx_engine.path, sizeof g_mx_engine.path, "%s/baseline.db", dirbuf);

  uint32_t v = qthr_version();
  printf("qthr %u.%u.%u sqlite demo: %d threads, %lld rows per run, window/batch %lld, SQLite %s\n",
         v >> 16, (v >> 8) & 0xff, v & 0xff, threads, rows, window, sqlite3_libversion());
  printf("one NOMUTEX connection per executor, opened on and used only by its worker thread\n");
  printf("databases in %s\n\n", dirbuf);

  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.thread_name = "sqlite";
  cfg.on_start = qthr_on_start;
  cfg.on_stop = on_stop;
  cfg.hook_ctx = &g_qthr_engine;
  qthr_runtime *rt = NULL;
  qthr_status st = qthr_init(&cfg, &rt);
  if (st != QTHR_OK) die("qthr_init", qthr_status_str(st));
  mx m;
  if (mx_init(&m, &g_mx_engine) != 0) die("baseline executor: start failed", NULL);

  result res[NMODES][2];
  for (int md = 0; md < NMODES; md++) {
    res[md][EX_QTHR] = run_mode(EX_QTHR, (enum mode)md, rt, NULL, threads, rows, (size_t)window);
    res[md][EX_MX] = run_mode(EX_MX, (enum mode)md, NULL, &m, threads, rows, (size_t)window);
  }
  qthr_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.size = sizeof stats;
  qthr_get_stats(rt, &stats);
  st = qthr_shutdown(rt, QTHR_DRAIN);
  if (st != QTHR_OK) die("qthr_shutdown", qthr_status_str(st));
  qthr_free(rt);
  mx_free(&m);

  printf("%-15s | %13s %13s %7s | %21s | %21s\n", "", "qthr", "mutex+condvar", "", "qthr latency us",
         "mutex+condvar us");
  printf("%-15s | %13s %13s %7s | %10s %10s | %10s %10s\n", "mode", "rows/s", "rows/s", "ratio",
         "p50", "p99", "p50", "p99");
  printf("----------------+-----------------------------------+-----------------------+----------------------\n");
  int ok = 1;
  for (int md = 0; md < NMODES; md++) {
    result q = res[md][EX_QTHR], b = res[md][EX_MX];
    printf("%-15s | %13.0f %13.0f %6.2fx | %10.1f %10.1f | %10.1f %10.1f\n", mode_name[md],
           q.rows_per_s, b.rows_per_s, q.rows_per_s / b.rows_per_s, q.p50_us, q.p99_us, b.p50_us,
           b.p99_us);
    ok = ok && q.ok && b.ok;
  }
  printf("\nlatency: call = one qthr_call; pipelined modes = submit to result, window %lld\n", window);
  printf("qthr stats: submitted %" PRIu64 ", completed %" PRIu64 ", cancelled %" PRIu64
         ", queue high water %" PRIu64 "\n",
         stats.submitted, stats.completed, stats.cancelled, stats.queue_high_water);
  printf("rows check (SELECT count(*), sum(seq) == rows sent, every mode): %s\n", ok ? "OK" : "FAILED");

  if (!keep) {
    const char *suffixes[] = {"", "-wal", "-shm"};
    char p[600];
    for (int i = 0; i < 3; i++) {
      snprintf(p, sizeof p, "%s%s", g_qthr_engine.path, suffixes[i]);
      unlink(p);
      snprintf(p, sizeof p, "%s%s", g_mx_engine.path, suffixes[i]);
      unlink(p);
    }
    if (!dir) rmdir(dirbuf);
  }
  return ok ? 0 : 1;
}
