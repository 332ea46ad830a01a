// Basics: the API snippet, result types, options and hooks, worker identity and
// re-entrancy, exceptions, move-only values and the allocations of submit() and call().
// Part of the GoogleTest suite of the C++ binding (bindings/cpp/qthr.hpp); asserts
// behaviour only (never speed). Built as C++17 and C++20, and under ASan and TSan.
#include "support.hpp"

#include <qthr.hpp>

#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace qthr_test;

// ---------------------------------------------------------------------------
// Counting C++ heap allocations made by the calling thread (the Rust core
// allocates with malloc, which this does not see: only the binding's own
// allocations are counted).
namespace {
thread_local long t_allocs = 0;
}

// Out of line: once inlined, GCC -O2 flags the malloc/free pair behind new/delete
// (-Wmismatched-new-delete).
[[gnu::noinline]] void *operator new(std::size_t n) {
  ++t_allocs;
  if (void *p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void *operator new[](std::size_t n) {
  ++t_allocs;
  if (void *p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void *p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void *p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void *p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void *p, std::size_t) noexcept { std::free(p); }

namespace {

std::string current_thread_name() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

} // namespace

// --- Contract snippet from API.md, verbatim in spirit -----------------------

TEST(Basics, ApiSnippet) {
  qthr::Runtime rt{qthr::Options{}.thread_name("engine").queue_capacity(1024).on_start([] {}).on_stop([] {})};
  qthr::Future<int> f = rt.submit([] { return 42; });
  int v = f.get();
  EXPECT_EQ(v, 42);
  std::future_status s = f.wait_for(std::chrono::milliseconds(5));
  EXPECT_EQ(s, std::future_status::ready);
  bool c = f.cancel();
  EXPECT_FALSE(c);
  int w = rt.call([] { return 7; });
  EXPECT_EQ(w, 7);
  EXPECT_FALSE(rt.on_worker());
  rt.shutdown(qthr::Shutdown::drain);
  qthr::Runtime plain;
  EXPECT_EQ(plain.call([] { return 1; }), 1);
}

TEST(Basics, VoidResults) {
  qthr::Runtime rt;
  int x = 0;
  qthr::Future<void> f = rt.submit([&x] { x = 5; });
  static_assert(std::is_same_v<decltype(f.get()), void>);
  f.get();
  EXPECT_EQ(x, 5);
  expect_already_retrieved([&] { f.get(); }); // one consumer
  rt.call([&x] { x = 6; });
  EXPECT_EQ(x, 6);
}

TEST(Basics, ResultTypeDeduction) {
  qthr::Runtime rt;
  auto f1 = rt.submit([] { return std::string("hi"); });
  static_assert(std::is_same_v<decltype(f1), qthr::Future<std::string>>);
  auto f2 = rt.submit([](int a, int b) { return a * b; }, 6, 7);
  static_assert(std::is_same_v<decltype(f2), qthr::Future<int>>);
  auto f3 = rt.submit([]() -> const std::string { return "c"; });
  static_assert(std::is_same_v<decltype(f3), qthr::Future<std::string>>);
  EXPECT_EQ(f1.get(), "hi");
  expect_already_retrieved([&] { (void)f1.get(); }); // taken once, copyable or not
  EXPECT_EQ(f2.get(), 42);
  EXPECT_EQ(f3.get(), "c");
  auto d = rt.call([] { return 1.5; });
  static_assert(std::is_same_v<decltype(d), double>);
  EXPECT_EQ(d, 1.5);
}

int add3(int a, int b, int c) { return a + b + c; }

TEST(Basics, FreeFunctionsMemberPointersAndArguments) {
  qthr::Runtime rt;
  EXPECT_EQ(rt.submit(add3, 1, 2, 3).get(), 6);
  EXPECT_EQ(rt.call(&add3, 1, 2, 3), 6);
  std::string s = "abc";
  EXPECT_EQ(rt.submit(&std::string::size, &s).get(), 3u);
  // submit copies its arguments (like std::thread); std::ref passes a reference.
  int n = 1;
  rt.submit([](int &r) { r = 10; }, std::ref(n)).get();
  EXPECT_EQ(n, 10);
  rt.submit([](int r) { return r; }, n).get();
  // call uses its arguments in place: the caller blocks until the job is done.
  rt.call([](int &r) { r = 20; }, n);
  EXPECT_EQ(n, 20);
}

TEST(Basics, ThreadNameOnStartOnStop) {
  std::vector<std::string> log;
  std::thread::id start_tid, stop_tid;
  std::thread::id worker;
  {
    qthr::Runtime rt{qthr::Options{}
                         .thread_name("qthr-cpp-test")
                         .on_start([&] {
                           start_tid = std::this_thread::get_id();
                           log.push_back("start");
                         })
                         .on_stop([&] {
                           stop_tid = std::this_thread::get_id();
                           log.push_back("stop");
                         })};
    EXPECT_EQ(log, std::vector<std::string>{"start"}); // on_start finished before the constructor returned
    worker = rt.call([&] {
      log.push_back("job");
      EXPECT_EQ(current_thread_name(), "qthr-cpp-test");
      return std::this_thread::get_id();
    });
  }
  EXPECT_EQ(log, (std::vector<std::string>{"start", "job", "stop"}));
  EXPECT_EQ(start_tid, worker);
  EXPECT_EQ(stop_tid, worker);
  EXPECT_NE(worker, std::this_thread::get_id());
}

TEST(Basics, OptionsLvalueCopyAndMoveOnlyHooks) {
  auto token = std::make_unique<int>(3);
  int seen = 0;
  qthr::Options opts;
  opts.thread_name("lv").queue_capacity(16);
  opts.on_start([t = std::move(token), &seen] { seen = *t; }); // move-only hook
  {
    qthr::Runtime a{opts};
    EXPECT_EQ(seen, 3);
    seen = 0;
    qthr::Runtime b{opts}; // a copy of the options shares the hook
    EXPECT_EQ(seen, 3);
  }
}

TEST(Basics, CpuPinning) {
  qthr::Runtime rt{qthr::Options{}.cpu(0)};
  EXPECT_EQ(rt.call([] { return sched_getcpu(); }), 0);
}

TEST(Basics, StatsAndVersion) {
  qthr::Runtime rt;
  for (int i = 0; i < 10; ++i) rt.submit([] {}).get();
  qthr_stats s = rt.stats();
  EXPECT_GE(s.submitted, 10u);
  EXPECT_GE(s.completed, 10u);
  EXPECT_EQ(s.size, sizeof(qthr_stats));
  EXPECT_EQ(qthr::version(), qthr_version());
}

// --- Worker identity and re-entrancy ----------------------------------------

TEST(Reentrancy, OnWorker) {
  qthr::Runtime rt;
  EXPECT_FALSE(rt.on_worker());
  EXPECT_TRUE(rt.call([&] { return rt.on_worker(); }));
  EXPECT_TRUE(rt.submit([&] { return rt.on_worker(); }).get());
  qthr::Runtime other;
  EXPECT_FALSE(rt.call([&] { return other.on_worker(); }));
}

TEST(Reentrancy, CallInsideJobRunsInline) {
  qthr::Runtime rt;
  auto outer = std::this_thread::get_id();
  int depth = rt.call([&] {
    auto worker = std::this_thread::get_id();
    EXPECT_NE(worker, outer);
    return rt.call([&] {
      EXPECT_EQ(std::this_thread::get_id(), worker);
      return rt.call([&] { return 3; });
    });
  });
  EXPECT_EQ(depth, 3);
  // From a submitted job too.
  EXPECT_EQ(rt.submit([&] { return rt.call([] { return 4; }) + 1; }).get(), 5);
}

TEST(Reentrancy, GetInsideJobOnQueuedFutureDoesNotDeadlock) {
  qthr::Runtime rt;
  int v = rt.call([&] {
    auto inner = rt.submit([] { return 9; }); // queued behind the running job
    return inner.get();                       // runs it inline instead of deadlocking
  });
  EXPECT_EQ(v, 9);
}

TEST(Reentrancy, ExceptionFromInlineCallCrossesNoCFrame) {
  qthr::Runtime rt;
  int r = rt.call([&] {
    try {
      rt.call([]() -> int { throw std::logic_error("inner"); });
    } catch (const std::logic_error &e) {
      return static_cast<int>(std::string(e.what()).size());
    }
    return -1;
  });
  EXPECT_EQ(r, 5);
}

TEST(Reentrancy, ShutdownFromWorkerIsWouldDeadlock) {
  qthr::Runtime rt;
  qthr_status st = rt.call([&] {
    try {
      rt.shutdown();
    } catch (const qthr::Error &e) {
      return e.status();
    }
    return QTHR_OK;
  });
  EXPECT_EQ(st, QTHR_WOULD_DEADLOCK);
  EXPECT_EQ(rt.call([] { return 1; }), 1); // still running
}

// --- Exceptions ---------------------------------------------------------------

TEST(Exceptions, GetRethrowsOriginalException) {
  qthr::Runtime rt;
  auto f = rt.submit([]() -> int { throw std::invalid_argument("boom"); });
  try {
    f.get();
    FAIL() << "no exception";
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  expect_already_retrieved([&] { (void)f.get(); }); // the exception is taken once too
  auto g = rt.submit([] { throw CustomError{17}; });
  try {
    g.get();
    FAIL() << "no exception";
  } catch (const CustomError &e) {
    EXPECT_EQ(e.code, 17);
  }
  EXPECT_THROW(rt.submit([] { throw 5; }).get(), int);
  // The worker survives.
  EXPECT_EQ(rt.call([] { return 1; }), 1);
}

TEST(Exceptions, CallRethrows) {
  qthr::Runtime rt;
  EXPECT_THROW(rt.call([] { throw std::out_of_range("x"); }), std::out_of_range);
  try {
    rt.call([]() -> std::string { throw CustomError{3}; });
  } catch (const CustomError &e) {
    EXPECT_EQ(e.code, 3);
  }
  EXPECT_EQ(rt.call([] { return 2; }), 2);
}

TEST(Exceptions, DroppedFutureOfThrowingJob) {
  qthr::Runtime rt;
  {
    auto f = rt.submit([] { throw std::runtime_error("nobody looks"); });
  }
  EXPECT_EQ(rt.call([] { return 3; }), 3);
}

TEST(Exceptions, OnStartExceptionPropagatesFromConstructor) {
  bool job_ran = false;
  try {
    qthr::Runtime rt{qthr::Options{}.on_start([] { throw CustomError{99}; })};
    rt.call([&] { job_ran = true; });
    FAIL() << "constructor did not throw";
  } catch (const CustomError &e) {
    EXPECT_EQ(e.code, 99);
  }
  EXPECT_FALSE(job_ran);
  EXPECT_THROW(qthr::Runtime{qthr::Options{}.on_start([] { throw std::runtime_error("no engine"); })},
               std::runtime_error);
}

TEST(Exceptions, OnStopExceptionFromShutdownSwallowedByDestructor) {
  {
    qthr::Runtime rt{qthr::Options{}.on_stop([] { throw CustomError{1}; })};
    EXPECT_THROW(rt.shutdown(), CustomError);
    EXPECT_NO_THROW(rt.shutdown()); // idempotent; reported once
  }
  {
    qthr::Runtime rt{qthr::Options{}.on_stop([] { throw CustomError{2}; })};
  } // destructor: swallowed
  SUCCEED();
}

TEST(Exceptions, ErrorCarriesStatus) {
  static_assert(std::is_base_of_v<std::runtime_error, qthr::Error>);
  qthr::Error e(QTHR_QUEUE_FULL);
  EXPECT_EQ(e.status(), QTHR_QUEUE_FULL);
  EXPECT_STREQ(e.what(), qthr_status_str(QTHR_QUEUE_FULL));
  qthr::Runtime rt;
  rt.shutdown();
  try {
    rt.submit([] { return 1; });
    FAIL() << "submit after shutdown did not throw";
  } catch (const qthr::Error &err) {
    EXPECT_EQ(err.status(), QTHR_SHUTDOWN);
    EXPECT_STREQ(err.what(), qthr_status_str(QTHR_SHUTDOWN));
  }
  try {
    rt.call([] { return 1; });
    FAIL() << "call after shutdown did not throw";
  } catch (const qthr::Error &err) {
    EXPECT_EQ(err.status(), QTHR_SHUTDOWN);
  }
}

// --- Move-only values and allocations ----------------------------------------

TEST(MoveOnly, CapturesArgumentsAndResults) {
  qthr::Runtime rt;
  auto p = std::make_unique<int>(41);
  auto f = rt.submit([q = std::move(p)] { return *q + 1; });
  EXPECT_EQ(f.get(), 42);
  auto g = rt.submit([](std::unique_ptr<int> a) { return std::make_unique<int>(*a * 2); }, std::make_unique<int>(21));
  static_assert(std::is_same_v<decltype(g), qthr::Future<std::unique_ptr<int>>>);
  std::unique_ptr<int> r = g.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
  expect_already_retrieved([&] { (void)g.get(); }); // moved out already
  EXPECT_TRUE(g.valid());
  // rvalue get() moves, also for copyable results.
  EXPECT_EQ(rt.submit([] { return std::string(100, 'x'); }).get().size(), 100u);
  // call with move-only captures and results
  auto c = std::make_unique<std::string>("m");
  auto u = rt.call([c = std::move(c)]() mutable { return std::move(c); });
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, "m");
}

TEST(MoveOnly, OneAllocationPerSubmitNoneForCall) {
  qthr::Runtime rt;
  rt.call([] {}); // warm up
  std::array<char, 256> big{};
  big[0] = 'a';
  auto cap = std::make_unique<int>(5);
  long before = t_allocs;
  auto f = rt.submit([big, c = std::move(cap)] { return big[0] + *c; });
  long after = t_allocs;
  EXPECT_EQ(after - before, 1);
  EXPECT_EQ(f.get(), 'a' + 5);
  before = t_allocs;
  int v = rt.call([big] { return static_cast<int>(big[0]); });
  after = t_allocs;
  EXPECT_EQ(v, 'a');
  EXPECT_EQ(after - before, 0);
}

TEST(MoveOnly, CapturesDestroyedOnWorkerAfterRun) {
  struct Probe {
    std::thread::id *where;
    explicit Probe(std::thread::id *w) : where(w) {}
    Probe(Probe &&o) noexcept : where(std::exchange(o.where, nullptr)) {}
    ~Probe() {
      if (where) *where = std::this_thread::get_id();
    }
  };
  std::thread::id died;
  qthr::Runtime rt;
  auto worker = rt.call([] { return std::this_thread::get_id(); });
  auto f = rt.submit([p = Probe(&died)] {});
  f.get();
  EXPECT_EQ(died, worker); // destroyed right after running, before get() returned
}
