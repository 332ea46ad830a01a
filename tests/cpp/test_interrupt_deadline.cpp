// 0.2: Future::interrupt through Options::on_interrupt, SubmitOptions::deadline and
// the urgent lane.
// Part of the GoogleTest suite of the C++ binding (bindings/cpp/qthr.hpp); asserts
// behaviour only (never speed). Built as C++17 and C++20, and under ASan and TSan.
#include "support.hpp"

#include <qthr.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace qthr_test;

// --- 0.2: interrupts, deadlines, the urgent lane ------------------------------------

namespace {
// Waits (at most 10 s) until `flag` is set; returns whether it was.
bool wait_flag(const std::atomic<bool> &flag) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!flag.load()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}
} // namespace

TEST(Interrupt, RunningJobStopsThroughOnInterruptOnTheInterruptingThread) {
  std::atomic<bool> stop{false}, started{false};
  std::thread::id hook_thread;
  qthr::Runtime rt{qthr::Options{}.on_interrupt([&] {
    hook_thread = std::this_thread::get_id();
    stop = true;
  })};
  auto f = rt.submit([&] {
    started = true;
    return wait_flag(stop) ? std::string("interrupted") : std::string("ran out");
  });
  ASSERT_TRUE(wait_flag(started));
  EXPECT_TRUE(f.interrupt());
  EXPECT_EQ(hook_thread, std::this_thread::get_id());
  EXPECT_EQ(f.get(), "interrupted"); // the job ends as the engine decides
  EXPECT_FALSE(f.interrupt());       // finished: nothing to stop
}

TEST(Interrupt, QueuedJobIsWithdrawnLikeCancel) {
  Tracked::live = 0;
  std::atomic<int> hook_calls{0};
  {
    qthr::Runtime rt{qthr::Options{}.on_interrupt([&] { ++hook_calls; })};
    Gate gate;
    auto blocker = rt.submit([&] { gate.wait(); });
    auto f = rt.submit([t = Tracked{}] { return 1; });
    EXPECT_TRUE(f.interrupt());
    EXPECT_EQ(Tracked::live.load(), 0); // captures destroyed at once, on this thread
    try {
      (void)f.get();
      ADD_FAILURE() << "no exception";
    } catch (const qthr::Error &e) {
      EXPECT_EQ(e.status(), QTHR_CANCELLED);
    }
    gate.open();
    blocker.get();
  }
  EXPECT_EQ(hook_calls.load(), 0); // a queued job needs no hook
}

TEST(Interrupt, WithoutHookOrFinishedOrEmptyIsFalse) {
  qthr::Runtime rt; // no on_interrupt
  std::atomic<bool> started{false};
  Gate gate;
  auto f = rt.submit([&] {
    started = true;
    gate.wait();
  });
  ASSERT_TRUE(wait_flag(started));
  EXPECT_FALSE(f.interrupt()); // running, nobody to ask
  gate.open();
  f.get();
  EXPECT_FALSE(f.interrupt());
  EXPECT_FALSE(qthr::Future<int>{}.interrupt());
}

TEST(Interrupt, HookExceptionIsRethrownByInterrupt) {
  std::atomic<bool> started{false};
  Gate gate;
  qthr::Runtime rt{qthr::Options{}.on_interrupt([] { throw CustomError{9}; })};
  auto f = rt.submit([&] {
    started = true;
    gate.wait();
    return 2;
  });
  ASSERT_TRUE(wait_flag(started));
  try {
    f.interrupt();
    ADD_FAILURE() << "no exception";
  } catch (const CustomError &e) {
    EXPECT_EQ(e.code, 9);
  }
  gate.open();
  EXPECT_EQ(f.get(), 2);
  EXPECT_FALSE(f.interrupt()); // and no stale exception from the earlier call
}

TEST(Deadline, JobNotStartedInTimeExpires) {
  Tracked::live = 0;
  {
    qthr::Runtime rt;
    Gate gate;
    auto blocker = rt.submit([&] { gate.wait(); });
    std::atomic<bool> ran{false};
    auto f = rt.submit(qthr::SubmitOptions{}.deadline(20ms), [&, t = Tracked{}] {
      ran = true;
      return 1;
    });
    // get() returns as soon as the deadline passes, although the worker is still blocked.
    try {
      (void)f.get();
      ADD_FAILURE() << "no exception";
    } catch (const qthr::Error &e) {
      EXPECT_EQ(e.status(), QTHR_EXPIRED);
    }
    EXPECT_EQ(f.wait_for(0ms), std::future_status::ready);
    EXPECT_TRUE(f.is_ready());
    EXPECT_FALSE(f.cancel());    // resolved
    EXPECT_FALSE(f.interrupt()); // resolved
    gate.open();
    blocker.get();
    rt.call([] {}); // the worker has passed the expired job
    EXPECT_FALSE(ran.load());
    EXPECT_GE(rt.stats().expired, 1u);
    auto s = rt.stats();
    EXPECT_EQ(s.completed + s.cancelled, s.submitted);
  }
  EXPECT_EQ(Tracked::live.load(), 0); // the expired job's captures were destroyed
}

TEST(Deadline, JobStartedInTimeRunsAndThenSeesExpired) {
  qthr::Runtime rt;
  EXPECT_EQ(rt.submit(qthr::SubmitOptions{}.deadline(10s), [] { return 3; }).get(), 3);
  // A continuation of an expired job sees QTHR_EXPIRED too.
  Gate gate, done;
  auto blocker = rt.submit([&] { gate.wait(); });
  qthr_status seen = QTHR_OK;
  rt.submit(qthr::SubmitOptions{}.deadline(1ms), [] {}).then([&](qthr::Future<void> g) {
    try {
      g.get();
    } catch (const qthr::Error &e) {
      seen = e.status();
    }
    done.open();
  });
  std::this_thread::sleep_for(5ms);
  gate.open();
  done.wait();
  EXPECT_EQ(seen, QTHR_EXPIRED);
  blocker.get();
}

TEST(Deadline, NonPositiveDeadlineIsRejected) {
  try {
    (void)qthr::SubmitOptions{}.deadline(0ms);
    ADD_FAILURE() << "no exception";
  } catch (const qthr::Error &e) {
    EXPECT_EQ(e.status(), QTHR_INVALID_ARGUMENT);
  }
  EXPECT_THROW((void)qthr::SubmitOptions{}.deadline(-1s), qthr::Error);
  qthr::SubmitOptions o;
  o.deadline(std::chrono::hours::max()).urgent();
  EXPECT_EQ(o.deadline_ns(), INT64_MAX);
  EXPECT_TRUE(o.is_urgent());
  EXPECT_EQ(qthr::SubmitOptions{}.deadline(std::chrono::duration<double, std::micro>(1.5)).deadline_ns(), 1500);
}

TEST(Urgent, UrgentJobsOvertakeQueuedNormalJobsInOrder) {
  qthr::Runtime rt;
  Gate gate;
  std::vector<int> order; // touched only on the worker
  auto blocker = rt.submit([&] { gate.wait(); });
  std::vector<qthr::Future<void>> fs;
  for (int i = 0; i < 5; ++i) fs.push_back(rt.submit([&order, i] { order.push_back(i); }));
  qthr::SubmitOptions urgent = qthr::SubmitOptions{}.urgent();
  for (int i = 100; i < 103; ++i) fs.push_back(rt.submit(urgent, [&order, i] { order.push_back(i); }));
  // Options with arguments, as an lvalue, and a deadline that is far away.
  fs.push_back(rt.submit(qthr::SubmitOptions{}.urgent().deadline(10s), [&order](int k) { order.push_back(k); }, 103));
  gate.open();
  for (auto &f : fs) f.get();
  blocker.get();
  std::vector<int> want{100, 101, 102, 103, 0, 1, 2, 3, 4};
  EXPECT_EQ(rt.call([&] { return order; }), want);
}
