// Shutdown and destruction (drain, cancel, from the worker, moves, a full nonblocking
// queue), and eight threads against one thread-affine engine.
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
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace qthr_test;

namespace {

// A thread-affine "engine": every access asserts it happens on its owner thread.
struct Engine {
  std::thread::id owner = std::this_thread::get_id();
  long total = 0;
  std::vector<long> per_caller = std::vector<long>(8, 0);
  std::atomic<int> violations{0};
  void touch() {
    if (std::this_thread::get_id() != owner) ++violations;
  }
};

} // namespace

// --- Shutdown and destruction -------------------------------------------------

TEST(Shutdown, DestructorDrainsQueuedJobs) {
  Tracked::live = 0;
  std::atomic<int> ran{0};
  std::vector<qthr::Future<int>> kept;
  Gate gate;
  std::thread opener;
  {
    qthr::Runtime rt;
    rt.submit([&] { gate.wait(); });
    for (int i = 0; i < 100; ++i) {
      auto f = rt.submit([&ran, i, t = Tracked()] {
        ++ran;
        return i;
      });
      if (i % 2) kept.push_back(std::move(f)); // half dropped, half kept
    }
    opener = std::thread([&] {
      std::this_thread::sleep_for(20ms);
      gate.open();
    });
  } // destructor: drains
  opener.join();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_EQ(Tracked::live.load(), 0);
  for (size_t k = 0; k < kept.size(); ++k) EXPECT_EQ(kept[k].get(), static_cast<int>(2 * k + 1));
}

TEST(Shutdown, DrainRunsEverything) {
  qthr::Runtime rt;
  Gate gate;
  std::atomic<int> ran{0};
  rt.submit([&] { gate.wait(); });
  std::vector<qthr::Future<void>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(rt.submit([&] { ++ran; }));
  std::thread opener([&] {
    std::this_thread::sleep_for(10ms);
    gate.open();
  });
  rt.shutdown(qthr::Shutdown::drain);
  opener.join();
  EXPECT_EQ(ran.load(), 20);
  for (auto &f : fs) EXPECT_NO_THROW(f.get());
  EXPECT_NO_THROW(rt.shutdown(qthr::Shutdown::drain)); // idempotent
  EXPECT_NO_THROW(rt.shutdown(qthr::Shutdown::cancel));
  EXPECT_THROW(rt.submit([] {}), qthr::Error);
}

TEST(Shutdown, CancelResolvesQueuedJobsAsCancelled) {
  Tracked::live = 0;
  std::atomic<int> ran{0};
  std::vector<qthr::Future<int>> kept;
  {
    qthr::Runtime rt;
    Gate started, gate;
    auto running = rt.submit([&] {
      started.open();
      gate.wait();
      return 5;
    });
    started.wait();
    for (int i = 0; i < 30; ++i) {
      auto f = rt.submit([&ran, t = Tracked()] {
        ++ran;
        return 1;
      });
      if (i % 3 == 0) kept.push_back(std::move(f)); // the others are dropped before shutdown
    }
    EXPECT_EQ(Tracked::live.load(), 30);
    std::thread opener([&] {
      std::this_thread::sleep_for(20ms);
      gate.open();
    });
    rt.shutdown(qthr::Shutdown::cancel);
    opener.join();
    EXPECT_EQ(running.get(), 5); // a running job always finishes
    EXPECT_EQ(Tracked::live.load(), 0);
  }
  EXPECT_EQ(ran.load(), 0);
  for (auto &f : kept) {
    EXPECT_EQ(f.wait_for(0ms), std::future_status::ready);
    try {
      f.get();
      ADD_FAILURE() << "cancelled job returned a value";
    } catch (const qthr::Error &e) {
      EXPECT_EQ(e.status(), QTHR_CANCELLED);
    }
  }
}

TEST(Shutdown, CallCancelledByShutdownThrows) {
  auto rt = std::make_unique<qthr::Runtime>();
  Gate gate;
  block_worker(*rt, gate);
  std::atomic<int> status{-1};
  std::thread caller([&] {
    try {
      rt->call([] { return 1; });
      status = QTHR_OK;
    } catch (const qthr::Error &e) {
      status = static_cast<int>(e.status());
    }
  });
  // Wait until the call is queued behind the running job.
  while (rt->stats().submitted < 2) std::this_thread::sleep_for(1ms);
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.open();
  });
  rt->shutdown(qthr::Shutdown::cancel);
  caller.join();
  opener.join();
  EXPECT_EQ(status.load(), static_cast<int>(QTHR_CANCELLED));
}

TEST(Shutdown, RuntimeDestroyedByItsOwnJob) {
  // The last owner of the Runtime lets go of it on the worker: the destructor cannot
  // join there, so the worker drains, runs on_stop and frees everything itself.
  Gate stopped;
  std::atomic<int> ran{0};
  std::atomic<bool> stop_on_worker{false};
  auto rt = std::make_shared<std::unique_ptr<qthr::Runtime>>();
  *rt = std::make_unique<qthr::Runtime>(qthr::Options{}.on_stop([&] {
    stop_on_worker = true;
    stopped.open();
  }));
  qthr::Runtime &r = **rt;
  Gate gate;
  r.submit([&] { gate.wait(); });
  r.submit([rt] { rt->reset(); }); // destroys the Runtime on its worker
  for (int i = 0; i < 10; ++i) r.submit([&] { ++ran; });
  rt.reset();
  gate.open();
  stopped.wait();
  EXPECT_EQ(ran.load(), 10);
  EXPECT_TRUE(stop_on_worker.load());
}

TEST(Shutdown, RuntimeMove) {
  static_assert(!std::is_copy_constructible_v<qthr::Runtime>);
  qthr::Runtime a{qthr::Options{}.thread_name("moved")};
  auto tid = a.call([] { return std::this_thread::get_id(); });
  qthr::Runtime b(std::move(a));
  EXPECT_FALSE(a.valid()); // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(b.valid());
  EXPECT_EQ(b.call([] { return std::this_thread::get_id(); }), tid);
  EXPECT_FALSE(a.on_worker());
  EXPECT_THROW(a.submit([] {}), qthr::Error);
  std::atomic<int> ran{0};
  qthr::Runtime c;
  c.submit([&] { ++ran; });
  c = std::move(b); // c's old worker drains first
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(c.call([] { return std::this_thread::get_id(); }), tid);
}

TEST(Shutdown, NonblockingQueueFull) {
  qthr::Runtime rt{qthr::Options{}.nonblocking().queue_capacity(2)};
  Gate gate;
  block_worker(rt, gate);
  std::vector<qthr::Future<void>> fs;
  qthr_status st = QTHR_OK;
  for (int i = 0; i < 10000 && st == QTHR_OK; ++i) {
    try {
      fs.push_back(rt.submit([] {}));
    } catch (const qthr::Error &e) {
      st = e.status();
    }
  }
  EXPECT_EQ(st, QTHR_QUEUE_FULL);
  EXPECT_GE(fs.size(), 2u);
  gate.open();
  for (auto &f : fs) f.get();
}

// --- Concurrency against a thread-affine engine ---------------------------------

TEST(Concurrency, EightThreadsOneEngine) {
  std::unique_ptr<Engine> engine;
  {
    qthr::Runtime rt{qthr::Options{}.thread_name("engine").on_start([&] { engine = std::make_unique<Engine>(); })};
    constexpr int kThreads = 8, kOps = 400;
    std::vector<std::thread> ts;
    std::atomic<long> sum_seen{0};
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        std::vector<qthr::Future<long>> pending;
        for (int i = 0; i < kOps; ++i) {
          switch (i % 3) {
          case 0:
            sum_seen += rt.call([&, t] {
              engine->touch();
              ++engine->per_caller[static_cast<size_t>(t)];
              return ++engine->total;
            });
            break;
          case 1:
            pending.push_back(rt.submit([&, t] {
              engine->touch();
              ++engine->per_caller[static_cast<size_t>(t)];
              return ++engine->total;
            }));
            break;
          default:
            rt.submit([&, t] { // fire and forget: dropped at once
              engine->touch();
              ++engine->per_caller[static_cast<size_t>(t)];
              ++engine->total;
            });
          }
        }
        for (auto &f : pending) sum_seen += f.get() > 0 ? 1 : 0;
      });
    }
    for (auto &th : ts) th.join();
    rt.call([&] { engine->touch(); });
  }
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->violations.load(), 0);
  EXPECT_EQ(engine->total, 8L * 400);
  for (long n : engine->per_caller) EXPECT_EQ(n, 400);
}
