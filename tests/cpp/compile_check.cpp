// A small translation unit that instantiates every public template of qthr.hpp.
// ctest compiles it with clang++ (C++17 and C++20, -Wall -Wextra -Werror -pedantic)
// to keep the header warning-free under both compilers, with -fno-rtti, and before
// C++17 / with -fno-exceptions to see the header's #error. It is compiled, not run.
#include <qthr.hpp>

#include "detached.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace {
struct MoveOnly {
  std::unique_ptr<int> p;
};
int twice(int x) { return 2 * x; }

#if defined(QTHR_CPP_HAS_COROUTINES)
using qthr_test::Detached;

Detached awaits(qthr::Runtime &rt, int &out) {
  qthr::Future<int> f = rt.submit([] { return 1; });
  out = co_await f;
  out += co_await rt.submit([] { return 2; });
  co_await rt.submit([] {});
  MoveOnly m = co_await rt.submit([] { return MoveOnly{}; });
  out += m.p ? 1 : 0;
  out += co_await rt.submit([] { return 3; }).via([](std::coroutine_handle<> h) { h.resume(); });
}
#endif
} // namespace

int qthr_cpp_compile_check() {
  qthr::Options opts;
  opts.thread_name("check").queue_capacity(8).nonblocking(false).cpu(-1);
  opts.on_start([p = std::make_unique<int>(1)] { (void)p; }).on_stop([] {});
  qthr::Runtime rt{qthr::Options{}.thread_name("engine").queue_capacity(1024).on_start([] {}).on_stop([] {})};
  qthr::Runtime plain;
  qthr::Runtime from_lvalue{opts};
  qthr::Future<int> f = rt.submit([] { return 42; });
  int v = f.get();
  std::future_status s = f.wait_for(std::chrono::milliseconds(5));
  s = f.wait_until(std::chrono::steady_clock::now());
  s = f.wait_until(std::chrono::system_clock::now());
  bool c = f.cancel() || f.is_ready();
  f.wait();
  int w = rt.call([] { return 7; });
  qthr::Future<void> fv = rt.submit([] {});
  fv.get();
  rt.call([] {});
  auto fm = rt.submit([m = MoveOnly{std::make_unique<int>(3)}]() mutable { return std::move(m); });
  MoveOnly mo = fm.get();
  MoveOnly mo2 = rt.call([] { return MoveOnly{}; });
  auto fa = rt.submit(twice, 4);
  int a = std::move(fa).get() + rt.call(twice, 5);
  qthr::Future<std::string> fs;
  fs = rt.submit([](std::string x) { return x; }, std::string("s"));
  std::string str = fs.get();
  rt.submit([] { return 5; }).then([](qthr::Future<int> g) { (void)g.get(); });
  rt.submit([] {}).then([](qthr::Future<void> &&g) { g.get(); });
  rt.submit([] { return MoveOnly{}; }).then([](qthr::Future<MoveOnly> g) { (void)g.get(); });
#if defined(QTHR_CPP_HAS_COROUTINES)
  int out = 0;
  awaits(rt, out);
  a += out;
#endif
  qthr::Runtime interruptible{qthr::Options{}.on_interrupt([] {}).on_start([] {})};
  auto fi = interruptible.submit(qthr::SubmitOptions{}.deadline(std::chrono::milliseconds(50)).urgent(), [] { return 1; });
  qthr::SubmitOptions so;
  so.deadline(std::chrono::seconds(1)).urgent(false);
  auto fo = interruptible.submit(so, twice, 3);
  c = c || fi.interrupt() || fo.cancel() || so.is_urgent() || so.deadline_ns() == 0;
  qthr_stats st = rt.stats();
  bool ow = rt.on_worker() || rt.valid() || fs.valid() || fs.native_handle() == nullptr || rt.native_handle() == nullptr;
  try {
    rt.shutdown(qthr::Shutdown::drain);
    rt.shutdown(qthr::Shutdown::cancel);
  } catch (const qthr::Error &e) {
    return static_cast<int>(e.status());
  }
  return v + w + c + ow + static_cast<int>(s) + (mo.p ? 1 : 0) + (mo2.p ? 1 : 0) + a +
         static_cast<int>(str.size() + st.submitted + st.expired + qthr::version());
}
