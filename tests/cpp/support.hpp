// Helpers shared by the GoogleTest files of tests/cpp (the suite of the C++ binding,
// bindings/cpp/qthr.hpp): a latch, jobs that wait for it, a live-instance
// counter, an exception type that is not a std::exception, and the check of a second get().
#ifndef QTHR_CPP_TEST_SUPPORT_HPP
#define QTHR_CPP_TEST_SUPPORT_HPP

#include <qthr.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

namespace qthr_test {

// A one-shot latch: wait() blocks until open().
class Gate {
public:
  void open() {
    // Notify under the lock: a waiter may destroy the Gate as soon as it returns.
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

// Occupies the worker with a job that waits for `gate`, and returns once it runs: jobs
// submitted next stay queued until gate.open().
inline qthr::Future<void> block_worker(qthr::Runtime &rt, Gate &gate) {
  Gate started; // may be destroyed once started.wait() returns (see Gate::open)
  auto blocker = rt.submit([&started, &gate] {
    started.open();
    gate.wait();
  });
  started.wait();
  return blocker;
}

// A job returning `value` once `gate` opens; with `resolved`, the gate is opened and the
// job waited for before the future is returned.
inline qthr::Future<int> gated_job(qthr::Runtime &rt, Gate &gate, int value, bool resolved = false) {
  auto f = rt.submit([&gate, value] {
    gate.wait();
    return value;
  });
  if (resolved) {
    gate.open();
    f.wait();
  }
  return f;
}

// Counts live instances: captures of jobs must all be destroyed, whatever
// happened to the job (ran, cancelled, shutdown-cancelled, future dropped).
struct Tracked {
  static inline std::atomic<int> live{0};
  Tracked() { ++live; }
  Tracked(const Tracked &) { ++live; }
  Tracked(Tracked &&) noexcept { ++live; }
  Tracked &operator=(const Tracked &) = default;
  Tracked &operator=(Tracked &&) = default;
  ~Tracked() { --live; }
};

// Thrown by jobs: not derived from std::exception, so only the original object can match.
struct CustomError {
  int code;
};

// Runs `f`, which must throw qthr::Error(QTHR_INVALID_ARGUMENT) "already retrieved".
template <class F>
void expect_already_retrieved(F &&f) {
  try {
    f();
    ADD_FAILURE() << "a second get() did not throw";
  } catch (const qthr::Error &e) {
    EXPECT_EQ(e.status(), QTHR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("already retrieved"), std::string::npos) << e.what();
  }
}

} // namespace qthr_test

#endif // QTHR_CPP_TEST_SUPPORT_HPP
