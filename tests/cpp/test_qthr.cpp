// GoogleTest suite for the header-only C++ binding bindings/cpp/qthr.hpp.
// Asserts behaviour only (never speed). Built twice: C++17 and C++20.

#include <qthr.hpp>

#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

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

// Counts live instances: captures of jobs must all be destroyed, whatever
// happened to the job (ran, cancelled, shutdown-cancelled, future dropped).
struct Tracked {
  static std::atomic<int> live;
  Tracked() { ++live; }
  Tracked(const Tracked &) { ++live; }
  Tracked(Tracked &&) noexcept { ++live; }
  Tracked &operator=(const Tracked &) = default;
  Tracked &operator=(Tracked &&) = default;
  ~Tracked() { --live; }
};
std::atomic<int> Tracked::live{0};

struct CustomError {
  int code;
};

std::string current_thread_name() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

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

// --- Futures: waiting, timeouts, cancellation ---------------------------------

TEST(Futures, WaitForAndWaitUntilTimeouts) {
  qthr::Runtime rt;
  Gate gate;
  auto f = rt.submit([&] {
    gate.wait();
    return 1;
  });
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
  auto f = rt.submit([&] {
    gate.wait();
    return 77;
  });
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
  Gate started, gate;
  auto blocker = rt.submit([&] {
    started.open();
    gate.wait();
  });
  started.wait();
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
    Gate started, gate;
    auto blocker = rt.submit([&] {
      started.open();
      gate.wait();
    });
    started.wait();
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
  Gate started, gate;
  rt->submit([&] {
    started.open();
    gate.wait();
  });
  started.wait();
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
  Gate started, gate;
  rt.submit([&] {
    started.open();
    gate.wait();
  });
  started.wait();
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

// --- C++20: co_await on a qthr::Future ------------------------------------------------

#if defined(QTHR_CPP_HAS_COROUTINES)
namespace {

// A fire-and-forget coroutine: starts at once, frees its frame when it ends.
struct Detached {
  struct promise_type {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

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
  auto f = rt.submit([&] {
    gate.wait();
    return 42;
  });
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
    auto f = rt.submit([&] {
      gate.wait();
      return 9;
    });
    if (resolved_first) {
      gate.open();
      f.wait();
    }
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
    auto f = rt.submit([&] {
      gate.wait();
      return 5;
    });
    if (resolved_first) {
      gate.open();
      f.wait();
    }
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
