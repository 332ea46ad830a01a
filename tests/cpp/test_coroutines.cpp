// C++20: co_await on a qthr::Future, inline and through via(executor).
// Part of the GoogleTest suite of the C++ binding (bindings/cpp/qthr.hpp); asserts
// behaviour only (never speed). Built as C++17 and C++20, and under ASan and TSan.
#include "detached.hpp"
#include "support.hpp"

#include <qthr.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace qthr_test;

#if defined(QTHR_CPP_HAS_COROUTINES)
namespace {

// An executor: one thread resuming the coroutine handles posted to it, in order.
class LoopThread {
public:
  LoopThread() : thread_([this] { loop(); }) {}
  ~LoopThread() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::coroutine_handle<> h) {
    {
      std::lock_guard<std::mutex> g(m_);
      q_.push_back(h);
    }
    cv_.notify_all();
  }
  std::thread::id id() const { return thread_.get_id(); }
  auto executor() {
    return [this](std::coroutine_handle<> h) { post(h); };
  }

private:
  void loop() {
    std::unique_lock<std::mutex> g(m_);
    for (;;) {
      cv_.wait(g, [&] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;
      auto h = q_.front();
      q_.erase(q_.begin());
      g.unlock();
      h.resume();
      g.lock();
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::coroutine_handle<>> q_;
  bool stop_ = false;
  std::thread thread_;
};

struct Seen {
  std::thread::id thread;
  bool on_worker = false;
  int value = 0;
  qthr_status error = QTHR_OK;
  int custom = 0;
};

Detached await_inline(qthr::Runtime &rt, qthr::Future<int> &f, Seen &seen, Gate &done) {
  try {
    seen.value = co_await f;
  } catch (const qthr::Error &e) {
    seen.error = e.status();
  } catch (const CustomError &e) {
    seen.custom = e.code;
  }
  seen.thread = std::this_thread::get_id();
  seen.on_worker = rt.on_worker();
  done.open();
}

Detached await_via(qthr::Future<int> &f, LoopThread &loop, Seen &seen, Gate &done) {
  seen.value = co_await f.via(loop.executor());
  seen.thread = std::this_thread::get_id();
  done.open();
}

// Ten jobs in a row, each awaited; after the first, the coroutine runs on the worker and
// submits from there.
Detached chain(qthr::Runtime &rt, std::atomic<long> &total, std::atomic<int> &finished) {
  long sum = 0;
  for (int i = 1; i <= 10; ++i) sum += co_await rt.submit([i] { return static_cast<long>(i); });
  co_await rt.submit([] {}); // void
  total += sum;
  ++finished;
}

} // namespace

TEST(Coroutines, CoAwaitResumesInlineOnTheResolvingWorker) {
  qthr::Runtime rt;
  Gate gate, done;
  auto f = gated_job(rt, gate, 42);
  Seen seen;
  await_inline(rt, f, seen, done); // suspends: the job is blocked
  gate.open();
  done.wait();
  EXPECT_EQ(seen.value, 42);
  EXPECT_TRUE(seen.on_worker);
  EXPECT_THROW((void)f.get(), qthr::Error); // co_await took the value
}

TEST(Coroutines, ResolvedFutureDoesNotSuspend) {
  qthr::Runtime rt;
  auto f = rt.submit([] { return 7; });
  f.wait();
  Gate done;
  Seen seen;
  await_inline(rt, f, seen, done); // runs to the end before returning
  EXPECT_EQ(seen.value, 7);
  EXPECT_EQ(seen.thread, std::this_thread::get_id());
  EXPECT_FALSE(seen.on_worker);
}

TEST(Coroutines, ViaResumesOnTheExecutorEvenWhenAlreadyResolved) {
  qthr::Runtime rt;
  LoopThread loop;
  for (bool resolved_first : {false, true}) {
    Gate gate, done;
    auto f = gated_job(rt, gate, 9, resolved_first);
    Seen seen;
    await_via(f, loop, seen, done);
    gate.open();
    done.wait();
    EXPECT_EQ(seen.value, 9);
    EXPECT_EQ(seen.thread, loop.id()) << "resolved first: " << resolved_first;
  }
}

TEST(Coroutines, ViaAnInlineExecutorResumesAtOnce) {
  // An executor that resumes on the spot: with an already resolved future the coroutine
  // resumes inside its own await_suspend, on this thread.
  qthr::Runtime rt;
  for (bool resolved_first : {true, false}) {
    Gate gate, done;
    auto f = gated_job(rt, gate, 5, resolved_first);
    Seen seen;
    [](qthr::Future<int> &fut, Seen &s, Gate &d) -> Detached {
      s.value = co_await fut.via([](std::coroutine_handle<> h) { h.resume(); });
      s.thread = std::this_thread::get_id();
      d.open();
    }(f, seen, done);
    if (resolved_first) {
      EXPECT_EQ(seen.thread, std::this_thread::get_id());
    }
    gate.open();
    done.wait();
    EXPECT_EQ(seen.value, 5);
  }
}

TEST(Coroutines, ExceptionsCancellationAndEmptyFutures) {
  qthr::Runtime rt;
  {
    Gate done;
    Seen seen;
    auto f = rt.submit([]() -> int { throw CustomError{11}; });
    await_inline(rt, f, seen, done);
    done.wait();
    EXPECT_EQ(seen.custom, 11);
  }
  {
    Gate gate, done;
    Seen seen;
    auto blocker = rt.submit([&] { gate.wait(); });
    auto f = rt.submit([] { return 1; });
    await_inline(rt, f, seen, done);
    std::thread canceller([&] { EXPECT_TRUE(f.cancel()); });
    std::thread::id canceller_id = canceller.get_id();
    canceller.join();
    done.wait();
    EXPECT_EQ(seen.error, QTHR_CANCELLED);
    EXPECT_EQ(seen.thread, canceller_id); // resumed by the cancelling thread
    gate.open();
    blocker.get();
  }
  {
    Gate done;
    Seen seen;
    qthr::Future<int> empty;
    await_inline(rt, empty, seen, done);
    EXPECT_EQ(seen.error, QTHR_INVALID_ARGUMENT);
  }
}

TEST(Coroutines, ManyCoroutinesChainingJobs) {
  std::atomic<long> total{0};
  std::atomic<int> finished{0};
  {
    qthr::Runtime rt;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&] {
        for (int i = 0; i < 25; ++i) chain(rt, total, finished);
      });
    for (auto &th : ts) th.join();
    // Each chain submits its next job from the worker: wait for all of them before the
    // destructor stops new submits.
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (finished.load() < 100 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(finished.load(), 100);
  EXPECT_EQ(total.load(), 100L * 55);
}
#endif // QTHR_CPP_HAS_COROUTINES
