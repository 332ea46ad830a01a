// Futures: waiting, timeouts and cancellation; one consumer per result (get() from
// several threads at once); Future::then.
// Part of the GoogleTest suite of the C++ binding (bindings/cpp/qthr.hpp); asserts
// behaviour only (never speed). Built as C++17 and C++20, and under ASan and TSan.
#include "support.hpp"

#include <qthr.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace qthr_test;

// --- Futures: waiting, timeouts, cancellation ---------------------------------

TEST(Futures, WaitForAndWaitUntilTimeouts) {
  qthr::Runtime rt;
  Gate gate;
  auto f = gated_job(rt, gate, 1);
  EXPECT_EQ(f.wait_for(10ms), std::future_status::timeout);
  EXPECT_EQ(f.wait_for(0ms), std::future_status::timeout);
  EXPECT_EQ(f.wait_for(-5ms), std::future_status::timeout);
  EXPECT_EQ(f.wait_until(std::chrono::steady_clock::now() + 10ms), std::future_status::timeout);
  EXPECT_EQ(f.wait_until(std::chrono::system_clock::now() + 10ms), std::future_status::timeout);
  EXPECT_EQ(f.wait_until(std::chrono::steady_clock::now() - 1s), std::future_status::timeout);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(f.wait_for(20ms), std::future_status::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms); // never returns early
  gate.open();
  EXPECT_EQ(f.wait_for(std::chrono::hours::max()), std::future_status::ready);
  EXPECT_EQ(f.wait_for(0ms), std::future_status::ready);
  EXPECT_EQ(f.wait_until(std::chrono::steady_clock::time_point::max()), std::future_status::ready);
  f.wait();
  EXPECT_EQ(f.get(), 1);
}

TEST(Futures, WaitFromManyThreads) {
  qthr::Runtime rt;
  Gate gate;
  auto f = gated_job(rt, gate, 77);
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      f.wait();
      if (f.wait_for(0ms) == std::future_status::ready) ++ok;
    });
  std::this_thread::sleep_for(5ms);
  gate.open();
  for (auto &t : ts) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(f.get(), 77);
}

TEST(Futures, CancelQueuedJob) {
  Tracked::live = 0;
  qthr::Runtime rt;
  Gate gate;
  auto blocker = block_worker(rt, gate);
  bool ran = false;
  auto f = rt.submit([&ran, t = Tracked()] {
    ran = true;
    return 1;
  });
  EXPECT_EQ(Tracked::live.load(), 1);
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(Tracked::live.load(), 0); // captures released when cancelled, not when the Future dies
  EXPECT_TRUE(f.cancel());            // already cancelled: still true (it will never run)
  EXPECT_FALSE(blocker.cancel());     // running: not cancellable
  EXPECT_EQ(f.wait_for(0ms), std::future_status::ready);
  try {
    f.get();
    FAIL() << "get on a cancelled future did not throw";
  } catch (const qthr::Error &e) {
    EXPECT_EQ(e.status(), QTHR_CANCELLED);
  }
  gate.open();
  blocker.get();
  EXPECT_FALSE(blocker.cancel()); // finished
  rt.call([] {});
  EXPECT_FALSE(ran);
  qthr::Future<int> empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_FALSE(empty.cancel());
  EXPECT_THROW(empty.get(), qthr::Error);
  EXPECT_THROW(empty.wait(), qthr::Error);
}

TEST(Futures, CapturedFutureDestroyedWhenCancelled) {
  // The captures of a cancelled job are destroyed inside the library's
  // completion callback; destroying a captured Future calls back into the library.
  Tracked::live = 0;
  {
    qthr::Runtime rt;
    Gate gate;
    auto blocker = block_worker(rt, gate);
    auto inner = rt.submit([t = Tracked()] { return 1; });
    auto outer = rt.submit([f = std::move(inner)]() mutable { return f.get(); });
    EXPECT_TRUE(outer.cancel());
    auto inner2 = rt.submit([t = Tracked()] { return 2; });
    auto outer2 = rt.submit([f = std::move(inner2)]() mutable { return f.get(); });
    std::thread opener([&] {
      std::this_thread::sleep_for(10ms);
      gate.open();
    });
    rt.shutdown(qthr::Shutdown::cancel); // inner2 and outer2 cancelled; outer2 owned inner2's Future
    opener.join();
    EXPECT_THROW(outer2.get(), qthr::Error);
  }
  EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(Futures, JobWaitingForItsOwnFuture) {
  qthr::Runtime rt;
  auto holder = std::make_shared<qthr::Future<int>>();
  Gate gate;
  rt.submit([&] { gate.wait(); });
  *holder = rt.submit([holder_ptr = holder.get()]() -> int {
    try {
      holder_ptr->get(); // waits for itself
    } catch (const qthr::Error &e) {
      return static_cast<int>(e.status());
    }
    return -1;
  });
  gate.open();
  EXPECT_EQ(holder->get(), static_cast<int>(QTHR_WOULD_DEADLOCK));
}

TEST(Futures, DroppingFutureNeverCancels) {
  Tracked::live = 0;
  std::atomic<int> ran{0};
  {
    qthr::Runtime rt;
    Gate gate;
    rt.submit([&] { gate.wait(); });
    for (int i = 0; i < 50; ++i) rt.submit([&ran, t = Tracked()] { ++ran; }); // dropped at once
    EXPECT_EQ(Tracked::live.load(), 50);
    gate.open();
    rt.call([] {}); // FIFO: everything before it has run
    EXPECT_EQ(ran.load(), 50);
    EXPECT_EQ(Tracked::live.load(), 0);
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(Futures, MoveSemantics) {
  qthr::Runtime rt;
  static_assert(!std::is_copy_constructible_v<qthr::Future<int>>);
  static_assert(std::is_nothrow_move_constructible_v<qthr::Future<int>>);
  auto a = rt.submit([] { return 1; });
  qthr::Future<int> b(std::move(a));
  EXPECT_FALSE(a.valid()); // NOLINT(bugprone-use-after-move): documented state
  EXPECT_TRUE(b.valid());
  qthr::Future<int> c = rt.submit([] { return 2; });
  c = std::move(b); // drops the job of c (it still runs)
  EXPECT_EQ(c.get(), 1);
  EXPECT_NE(c.native_handle(), nullptr);
}

TEST(Futures, FutureOutlivesRuntime) {
  qthr::Future<std::string> f;
  {
    qthr::Runtime rt;
    f = rt.submit([] { return std::string("late"); });
  }
  EXPECT_EQ(f.wait_for(0ms), std::future_status::ready);
  EXPECT_EQ(f.get(), "late");
}

// --- One consumer: get() from several threads at once -------------------------------

namespace {

// Calls get() on `f` from kThreads threads released together; returns how many got the
// value (checked by `check`) and how many got qthr::Error("already retrieved").
template <class T, class Check>
std::pair<int, int> race_get(qthr::Future<T> &f, Check check) {
  constexpr int kThreads = 4;
  std::atomic<int> ready{0}, values{0}, retrieved{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i)
    ts.emplace_back([&] {
      ++ready;
      while (!go.load()) std::this_thread::yield();
      try {
        if constexpr (std::is_void_v<T>) {
          f.get();
          check();
        } else {
          check(f.get());
        }
        ++values;
      } catch (const qthr::Error &e) {
        if (e.status() == QTHR_INVALID_ARGUMENT) ++retrieved;
        else ++other;
      } catch (...) {
        ++values; // the job's own exception: rethrown to exactly one of them
      }
    });
  while (ready.load() < kThreads) std::this_thread::yield();
  go = true;
  for (auto &t : ts) t.join();
  EXPECT_EQ(other.load(), 0);
  return {values.load(), retrieved.load()};
}

} // namespace

TEST(SingleConsumer, ConcurrentGetGivesTheValueToExactlyOneThread) {
  qthr::Runtime rt;
  for (int round = 0; round < 50; ++round) {
    // Still running when the threads call get() (half of the rounds), or already done.
    Gate gate;
    bool hold = round % 2 == 0;
    auto s = rt.submit([&, hold] {
      if (hold) gate.wait();
      return std::string(64, 's'); // heap-allocated: a double move would be a double free
    });
    auto u = rt.submit([] { return std::make_unique<std::vector<int>>(100, 7); });
    auto v = rt.submit([] {});
    auto e = rt.submit([]() -> int { throw std::runtime_error("job failed"); });
    std::thread opener([&] {
      std::this_thread::sleep_for(1ms);
      gate.open();
    });
    auto rs = race_get(s, [](std::string x) { EXPECT_EQ(x, std::string(64, 's')); });
    opener.join();
    auto ru = race_get(u, [](std::unique_ptr<std::vector<int>> p) {
      ASSERT_TRUE(p);
      EXPECT_EQ(p->size(), 100u);
    });
    auto rv = race_get(v, [] {});
    auto re = race_get(e, [](int) { ADD_FAILURE() << "a value from a throwing job"; });
    for (auto r : {rs, ru, rv, re}) {
      EXPECT_EQ(r.first, 1) << "round " << round;
      EXPECT_EQ(r.second, 3) << "round " << round;
    }
  }
}

TEST(SingleConsumer, CancelledFutureThrowsCancelledForEveryone) {
  qthr::Runtime rt;
  Gate gate;
  auto blocker = rt.submit([&] { gate.wait(); });
  auto f = rt.submit([] { return 1; });
  ASSERT_TRUE(f.cancel());
  std::atomic<int> cancelled{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i)
    ts.emplace_back([&] {
      try {
        (void)f.get();
      } catch (const qthr::Error &e) {
        if (e.status() == QTHR_CANCELLED) ++cancelled;
      }
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(cancelled.load(), 3);
  gate.open();
  blocker.get();
}

TEST(SingleConsumer, IsReady) {
  qthr::Runtime rt;
  Gate gate;
  auto f = rt.submit([&] {
    gate.wait();
    return 3;
  });
  EXPECT_FALSE(f.is_ready());
  gate.open();
  f.wait();
  EXPECT_TRUE(f.is_ready());
  EXPECT_EQ(f.get(), 3);
  EXPECT_FALSE(qthr::Future<int>{}.is_ready());
}

// --- Future::then ------------------------------------------------------------------

TEST(Then, RunsOnTheWorkerRightAfterTheJob) {
  qthr::Runtime rt;
  Gate gate, done;
  std::atomic<bool> on_worker{false};
  std::atomic<int> value{0};
  auto f = rt.submit([&] {
    gate.wait();
    return 41;
  });
  std::move(f).then([&](qthr::Future<int> g) {
    on_worker = rt.on_worker();
    value = g.get() + 1;
    done.open();
  });
  EXPECT_FALSE(f.valid()); // consumed
  gate.open();
  done.wait();
  EXPECT_TRUE(on_worker.load());
  EXPECT_EQ(value.load(), 42);
}

TEST(Then, AlreadyResolvedRunsAtOnceOnThisThread) {
  qthr::Runtime rt;
  auto f = rt.submit([] { return std::make_unique<int>(5); });
  f.wait();
  std::thread::id where;
  int got = 0;
  std::move(f).then([&](qthr::Future<std::unique_ptr<int>> &&g) {
    where = std::this_thread::get_id();
    got = *g.get();
  });
  EXPECT_EQ(where, std::this_thread::get_id());
  EXPECT_EQ(got, 5);
}

TEST(Then, CancelledJobRunsOnTheCancellingThreadWithCancelled) {
  qthr::Runtime rt;
  Gate gate;
  auto blocker = rt.submit([&] { gate.wait(); });
  auto f = rt.submit([] { return 1; });
  qthr_future *raw = f.native_handle();
  std::thread::id where;
  qthr_status st = QTHR_OK;
  std::move(f).then([&](qthr::Future<int> g) {
    where = std::this_thread::get_id();
    try {
      (void)g.get();
    } catch (const qthr::Error &e) {
      st = e.status();
    }
  });
  // The continuation owns the future now; cancel through the C handle it keeps alive.
  std::thread canceller([&] { EXPECT_EQ(qthr_cancel(raw), QTHR_OK); });
  std::thread::id canceller_id = canceller.get_id();
  canceller.join();
  EXPECT_EQ(where, canceller_id);
  EXPECT_EQ(st, QTHR_CANCELLED);
  gate.open();
  blocker.get();
}

TEST(Then, JobExceptionsReachTheContinuation) {
  qthr::Runtime rt;
  Gate done;
  int code = 0;
  rt.submit([]() -> int { throw CustomError{3}; }).then([&](qthr::Future<int> g) {
    try {
      (void)g.get();
    } catch (const CustomError &e) {
      code = e.code;
    }
    done.open();
  });
  done.wait();
  EXPECT_EQ(code, 3);
}

TEST(Then, ShutdownCancelResolvesContinuationsAndFreesEverything) {
  Tracked::live = 0;
  std::atomic<int> cancelled{0};
  {
    qthr::Runtime rt;
    Gate gate;
    auto blocker = rt.submit([&] { gate.wait(); });
    for (int i = 0; i < 5; ++i)
      rt.submit([t = Tracked{}] {}).then([&, t = Tracked{}](qthr::Future<void> g) {
        try {
          g.get();
        } catch (const qthr::Error &e) {
          if (e.status() == QTHR_CANCELLED) ++cancelled;
        }
      });
    std::thread stopper([&] { rt.shutdown(qthr::Shutdown::cancel); });
    std::this_thread::sleep_for(5ms);
    gate.open();
    stopper.join();
  }
  EXPECT_EQ(cancelled.load(), 5);
  EXPECT_EQ(Tracked::live.load(), 0); // every job and continuation freed
}

TEST(Then, EmptyFutureThrows) {
  qthr::Future<int> f;
  EXPECT_THROW(std::move(f).then([](qthr::Future<int>) {}), qthr::Error);
}
