// A user's shared object built with qthr.hpp: it must export its own API only, none of
// the header's qthr_cpp_detail_* trampolines (tests/consumer/check_exports.cmake).
#include <qthr.hpp>

extern "C" int user_lib_answer(void) {
  qthr::Runtime rt;
  int v = rt.submit([] { return 40; }).get();
  std::move(rt.submit([] { return 1; })).then([](qthr::Future<int> f) { (void)f.get(); });
  return v + rt.call([] { return 2; });
}
