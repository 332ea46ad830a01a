// One SQLite connection on the qthr worker, and the three controls a shared engine thread
// needs (qthr 0.2):
//
// 1. interrupt: a long query runs; another thread calls Future::interrupt(), which runs
//    the runtime's on_interrupt hook -- sqlite3_interrupt(db), which SQLite allows from
//    any thread -- and the query stops with SQLITE_INTERRUPT.
// 2. deadline: while the worker is busy, inserts are submitted with a deadline; those
//    that could not start in time never run (QTHR_EXPIRED) and cost no engine time.
// 3. urgent: behind a backlog of inserts, an urgent read overtakes every queued insert.
//
//   qthr_cpp_sqlite_interrupt_example [-n BACKLOG]      (default 2000)
//
// Prints what happened, with timings; exits non-zero if a rule did not hold (the query
// finished instead of stopping, an expired insert landed, the urgent read waited for the
// backlog). The rules are about order and outcome, never about speed.
#include <qthr.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Belongs to the worker thread: only touched in jobs and hooks (on_interrupt only calls
// sqlite3_interrupt, the one function SQLite allows from another thread).
struct Db {
  sqlite3 *conn = nullptr;
  void exec(const char *sql) {
    char *err = nullptr;
    if (sqlite3_exec(conn, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(conn);
      sqlite3_free(err);
      throw std::runtime_error(msg);
    }
  }
  // The result code of stepping `sql` to the end (SQLITE_DONE, SQLITE_INTERRUPT, ...).
  int run(const char *sql) {
    sqlite3_stmt *st = nullptr;
    if (sqlite3_prepare_v2(conn, sql, -1, &st, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(conn));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    sqlite3_finalize(st);
    return rc;
  }
  long long scalar(const char *sql) {
    sqlite3_stmt *st = nullptr;
    if (sqlite3_prepare_v2(conn, sql, -1, &st, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(conn));
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
  }
  void insert(const char *table, int v) {
    sqlite3_stmt *st = nullptr;
    std::string sql = std::string("INSERT INTO ") + table + "(v) VALUES (?)";
    if (sqlite3_prepare_v2(conn, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(conn));
    sqlite3_bind_int(st, 1, v);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(conn));
  }
};

int failures = 0;
void rule(bool ok, const char *what) {
  std::printf("  %-62s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) ++failures;
}

} // namespace

int main(int argc, char **argv) {
  int backlog = 2000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
      backlog = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [-n BACKLOG]\n", argv[0]);
      return 2;
    }
  }
  if (backlog < 10) backlog = 10;

  Db db;
  qthr::Runtime rt{qthr::Options{}
                       .thread_name("sqlite")
                       .on_start([&] {
                         if (sqlite3_open_v2(":memory:", &db.conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                             nullptr) != SQLITE_OK)
                           throw std::runtime_error("cannot open the database");
                         db.exec("CREATE TABLE fresh(v INTEGER); CREATE TABLE backlog(v INTEGER)");
                       })
                       .on_stop([&] { sqlite3_close(db.conn); })
                       .on_interrupt([&] { sqlite3_interrupt(db.conn); })};

  // --- 1. a long query, interrupted from another thread ---------------------------------
  std::printf("1. interrupt: a query counting to 10^10, interrupted after 50 ms\n");
  std::atomic<bool> started{false};
  auto t0 = Clock::now();
  auto query = rt.submit([&] {
    started = true;
    return db.run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000) "
                  "SELECT count(*) FROM c");
  });
  while (!started.load()) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);
  bool asked = false;
  std::thread interrupter([&] { asked = query.interrupt(); });
  interrupter.join();
  int rc = query.get();
  double stopped_ms = ms_since(t0);
  std::printf("  query stopped after %.1f ms with %s\n", stopped_ms, sqlite3_errstr(rc));
  rule(asked, "interrupt() reached the running query (true)");
  rule(rc == SQLITE_INTERRUPT, "the query ended with SQLITE_INTERRUPT");
  rule(rt.call([&] { return db.scalar("SELECT 1"); }) == 1, "the connection works afterwards");

  // --- 2. stale inserts dropped by their deadline -----------------------------------------
  std::printf("2. deadline: 200 inserts with a 20 ms deadline queued behind a busy job\n");
  std::atomic<bool> keep_busy{true};
  auto busy = rt.submit([&] {
    while (keep_busy.load()) std::this_thread::sleep_for(100us);
  });
  std::vector<qthr::Future<void>> inserts;
  for (int i = 0; i < 200; ++i)
    inserts.push_back(rt.submit(qthr::SubmitOptions{}.deadline(20ms), [&db, i] { db.insert("fresh", i); }));
  std::this_thread::sleep_for(30ms); // every one of them is past its deadline now
  for (int i = 0; i < 50; ++i)
    inserts.push_back(rt.submit(qthr::SubmitOptions{}.deadline(10s), [&db, i] { db.insert("fresh", 1000 + i); }));
  auto t_release = Clock::now();
  keep_busy = false;
  int landed = 0, expired = 0, other = 0;
  for (auto &f : inserts) {
    try {
      f.get();
      ++landed;
    } catch (const qthr::Error &e) {
      (e.status() == QTHR_EXPIRED ? expired : other)++;
    }
  }
  double drain_ms = ms_since(t_release);
  busy.get();
  long long rows = rt.call([&] { return db.scalar("SELECT count(*) FROM fresh"); });
  std::printf("  %d inserted, %d expired (never ran), table holds %lld rows; stats: %llu expired;\n"
              "  the worker got through all 250 in %.2f ms once free\n",
              landed, expired, rows, static_cast<unsigned long long>(rt.stats().expired), drain_ms);
  rule(expired == 200 && other == 0, "every insert past its deadline expired");
  rule(landed == 50 && rows == landed, "the others ran; no expired insert reached the table");

  // --- 3. an urgent read overtaking a backlog ---------------------------------------------
  std::printf("3. urgent: a read submitted behind %d queued inserts\n", backlog);
  std::atomic<bool> hold{true};
  auto gate = rt.submit([&] {
    while (hold.load()) std::this_thread::sleep_for(100us);
  });
  std::vector<qthr::Future<void>> queued;
  queued.reserve(static_cast<size_t>(backlog));
  for (int i = 0; i < backlog; ++i) queued.push_back(rt.submit([&db, i] { db.insert("backlog", i); }));
  auto t_urgent = Clock::now();
  auto read = rt.submit(qthr::SubmitOptions{}.urgent(), [&] { return db.scalar("SELECT count(*) FROM backlog"); });
  auto t_normal = Clock::now();
  auto normal_read = rt.submit([&] { return db.scalar("SELECT count(*) FROM backlog"); });
  hold = false;
  long long seen_by_urgent = read.get();
  double urgent_ms = ms_since(t_urgent);
  long long seen_by_normal = normal_read.get();
  double normal_ms = ms_since(t_normal);
  for (auto &f : queued) f.get();
  gate.get();
  std::printf("  urgent read: %.2f ms, saw %lld of %d rows; the same read queued normally: %.2f ms, saw %lld\n",
              urgent_ms, seen_by_urgent, backlog, normal_ms, seen_by_normal);
  rule(seen_by_urgent == 0, "the urgent read ran before every queued insert");
  rule(seen_by_normal == backlog, "the normal read ran after the whole backlog");

  rt.shutdown();
  std::printf("%s\n", failures ? "FAILED" : "all rules held");
  return failures ? 1 : 0;
}
