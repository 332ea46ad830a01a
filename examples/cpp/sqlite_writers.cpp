// Eight threads write into one SQLite connection through qthr.
//
// The connection is opened on the worker thread (on_start) with
// SQLITE_OPEN_NOMUTEX: SQLite does no locking of its own, so the connection
// must only ever be used by one thread at a time. qthr makes that "one
// thread" the worker: every statement runs there, whoever asks for it.
//
//   qthr_cpp_sqlite_example [DATABASE]     (default: an in-memory database)
//
// Exit status 0 when the final row count is what the writers wrote.
#include <qthr.hpp>

#include <sqlite3.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kWriters = 8;
constexpr int kRowsPerWriter = 500;

// State that belongs to the worker thread; only touched inside jobs and hooks.
struct Db {
  sqlite3 *conn = nullptr;
  sqlite3_stmt *insert = nullptr;
  std::thread::id owner;

  void check_thread() const {
    if (std::this_thread::get_id() != owner) throw std::logic_error("SQLite used off its thread");
  }
  void exec(const char *sql) {
    check_thread();
    char *err = nullptr;
    if (sqlite3_exec(conn, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(conn);
      sqlite3_free(err);
      throw std::runtime_error(msg); // carried to the caller's get()/call()
    }
  }
  long long scalar(const char *sql) {
    check_thread();
    sqlite3_stmt *st = nullptr;
    if (sqlite3_prepare_v2(conn, sql, -1, &st, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(conn));
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
  }
};

} // namespace

int main(int argc, char **argv) {
  const std::string path = argc > 1 ? argv[1] : ":memory:";
  Db db;

  qthr::Runtime rt{qthr::Options{}
                       .thread_name("sqlite")
                       .on_start([&] { // runs on the worker, before any job
                         db.owner = std::this_thread::get_id();
                         int rc = sqlite3_open_v2(path.c_str(), &db.conn,
                                                  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                                  nullptr);
                         if (rc != SQLITE_OK) throw std::runtime_error("cannot open " + path);
                         db.exec("DROP TABLE IF EXISTS events;"
                                 "CREATE TABLE events(writer INTEGER NOT NULL, seq INTEGER NOT NULL)");
                         if (sqlite3_prepare_v2(db.conn, "INSERT INTO events(writer, seq) VALUES (?1, ?2)", -1,
                                                &db.insert, nullptr) != SQLITE_OK)
                           throw std::runtime_error(sqlite3_errmsg(db.conn));
                       })
                       .on_stop([&] { // runs on the worker, after the last job
                         sqlite3_finalize(db.insert);
                         sqlite3_close(db.conn);
                       })};

  auto insert = [&db](int writer, int seq) {
    db.check_thread();
    sqlite3_reset(db.insert);
    sqlite3_bind_int(db.insert, 1, writer);
    sqlite3_bind_int(db.insert, 2, seq);
    if (sqlite3_step(db.insert) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db.conn));
  };

  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::vector<qthr::Future<void>> pending;
      for (int i = 0; i < kRowsPerWriter; ++i) {
        if (i % 2 == 0)
          rt.call(insert, w, i); // blocking call: no heap allocation
        else
          pending.push_back(rt.submit(insert, w, i)); // asynchronous: a future per row
      }
      for (auto &f : pending) f.get(); // rethrows a failed insert here
    });
  }
  for (auto &t : writers) t.join();

  // A failing statement: SQLite's error comes back to this thread as an exception.
  try {
    rt.call([&] { db.exec("INSERT INTO no_such_table VALUES (1)"); });
  } catch (const std::runtime_error &e) {
    std::printf("expected error from the worker: %s\n", e.what());
  }

  const long long rows = rt.call([&] { return db.scalar("SELECT count(*) FROM events"); });
  const long long writers_seen = rt.call([&] { return db.scalar("SELECT count(DISTINCT writer) FROM events"); });
  const long long expected = static_cast<long long>(kWriters) * kRowsPerWriter;
  std::printf("rows: %lld (expected %lld), writers: %lld\n", rows, expected, writers_seen);
  return rows == expected && writers_seen == kWriters ? 0 : 1;
}
