// A multithreaded user program built with -fsanitize=thread against the INSTALLED
// libqthr.so and qthr.hpp. Every path of the binding that hands data between threads:
// hooks (captures written before the Runtime, state written on the worker and read
// after shutdown), submit/get from several threads (captures in, results out, move-only
// and throwing jobs), call(), cancel() from another thread, then(), the destructor of a
// Future on a thread other than the one that submitted, interrupt() through on_interrupt,
// an expired deadline and an urgent job, shutdown(cancel) with queued jobs. ctest expects no ThreadSanitizer report at all (consumer.tsan); built with
// -DQTHR_CPP_NO_TSAN_ANNOTATIONS it must produce reports (consumer.tsan_unannotated: the
// check really sees hand-offs).
#include <qthr.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Engine { // thread-affine: touched only on the worker
  std::map<int, std::string> rows;
  long calls = 0;
};

class Gate {
public:
  void open() {
    std::lock_guard<std::mutex> g(m_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> g(m_);
    cv_.wait(g, [&] { return open_; });
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

int failures = 0;
void expect(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "tsan_app: FAILED %s\n", what);
    ++failures;
  }
}

} // namespace

int main() {
  std::string config = "configured on main"; // read by on_start on the worker
  std::unique_ptr<Engine> engine;
  long stopped_calls = -1; // written by on_stop on the worker, read after shutdown
  std::atomic<bool> stop_requested{false}; // set by on_interrupt, polled by a job
  {
    qthr::Runtime rt{qthr::Options{}
                         .thread_name("tsan-engine")
                         .on_interrupt([&] { stop_requested = true; })
                         .on_start([&] {
                           engine = std::make_unique<Engine>();
                           engine->rows[0] = config;
                         })
                         .on_stop([&] { stopped_calls = engine->calls; })};

    // Eight threads: submit (captures by value, results by value), call, get.
    std::vector<std::thread> ts;
    std::atomic<long> sum{0};
    for (int t = 0; t < 8; ++t)
      ts.emplace_back([&, t] {
        std::vector<qthr::Future<std::string>> fs;
        for (int i = 0; i < 50; ++i) {
          std::string payload = "row " + std::to_string(t * 1000 + i);
          fs.push_back(rt.submit([&engine, key = t * 1000 + i + 1, payload] {
            ++engine->calls;
            engine->rows[key] = payload;
            return payload + " stored";
          }));
          sum += rt.call([&engine, i] {
            ++engine->calls;
            return static_cast<long>(i);
          });
        }
        for (auto &f : fs) expect(f.get().find("stored") != std::string::npos, "submit result");
      });
    for (auto &th : ts) th.join();
    expect(sum.load() == 8L * (49 * 50 / 2), "call results");

    // Move-only results, job exceptions, and a Future destroyed on another thread.
    auto unique = rt.submit([] { return std::make_unique<std::vector<int>>(1000, 3); });
    auto throwing = rt.submit([]() -> int { throw std::runtime_error("job failed"); });
    std::thread other([f = std::move(unique)]() mutable { expect(f.get()->size() == 1000, "move-only result"); });
    other.join();
    try {
      (void)throwing.get();
      expect(false, "exception rethrown");
    } catch (const std::runtime_error &) {
    }

    // Concurrent get(): one value, the other thread gets qthr::Error.
    auto shared = rt.submit([] { return std::string(256, 'x'); });
    std::atomic<int> got{0}, refused{0};
    std::thread g1([&] {
      try {
        got += shared.get().size() == 256;
      } catch (const qthr::Error &) {
        ++refused;
      }
    });
    std::thread g2([&] {
      try {
        got += shared.get().size() == 256;
      } catch (const qthr::Error &) {
        ++refused;
      }
    });
    g1.join();
    g2.join();
    expect(got.load() == 1 && refused.load() == 1, "concurrent get");

    // then(): the continuation runs on the worker and hands its result to main.
    Gate then_done;
    std::string from_then;
    rt.submit([] { return std::string("continued"); }).then([&](qthr::Future<std::string> f) {
      from_then = f.get();
      then_done.open();
    });
    then_done.wait();
    expect(from_then == "continued", "then");

    // cancel() from another thread: the captures die on the cancelling thread.
    Gate gate;
    auto blocker = rt.submit([&gate] { gate.wait(); });
    auto queued = rt.submit([big = std::vector<int>(100, 1)] { return big.size(); });
    std::thread canceller([&] { expect(queued.cancel(), "cancel"); });
    canceller.join();
    gate.open();
    blocker.get();

    // interrupt(): the hook runs on this thread and stops the job through a flag.
    std::atomic<bool> started{false};
    auto long_job = rt.submit([&] {
      started = true;
      while (!stop_requested.load()) std::this_thread::yield();
      return std::string("stopped");
    });
    while (!started.load()) std::this_thread::yield();
    expect(long_job.interrupt(), "interrupt");
    expect(long_job.get() == "stopped", "interrupted job");

    // A deadline that passes while the worker is busy, and an urgent job.
    Gate gate3;
    auto blocker3 = rt.submit([&gate3] { gate3.wait(); });
    auto stale = rt.submit(qthr::SubmitOptions{}.deadline(std::chrono::milliseconds(5)),
                           [s = std::string(64, 'e')] { return s; });
    auto urgent = rt.submit(qthr::SubmitOptions{}.urgent(), [s = std::string(64, 'u')] { return s; });
    try {
      (void)stale.get();
      expect(false, "expired");
    } catch (const qthr::Error &e) {
      expect(e.status() == QTHR_EXPIRED, "expired status");
    }
    gate3.open();
    expect(urgent.get() == std::string(64, 'u'), "urgent");
    blocker3.get();

    // Queued jobs left for shutdown(cancel), their Futures dropped first.
    Gate gate2;
    auto blocker2 = rt.submit([&gate2] { gate2.wait(); });
    for (int i = 0; i < 20; ++i) rt.submit([s = std::string(64, 'q')] { (void)s; });
    std::thread stopper([&] { rt.shutdown(qthr::Shutdown::cancel); });
    gate2.open();
    stopper.join();
  }
  expect(stopped_calls == 8L * 50 * 2, "on_stop saw every call");
  expect(engine && engine->rows.size() == 8 * 50 + 1, "engine rows");
  if (failures) return 1;
  std::printf("tsan_app ok\n");
  return 0;
}
