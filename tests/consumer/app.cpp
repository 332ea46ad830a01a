// A C++ consumer of an installed qthr: qthr.hpp from the installed include directory,
// a job on the worker, a job's exception back in get(), one consumer per result.
#include <qthr.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

int main() {
  qthr::Runtime rt{qthr::Options{}.thread_name("consumer-cpp")};
  qthr::Future<std::string> f = rt.submit([&rt] { return std::string(rt.on_worker() ? "worker" : "elsewhere"); });
  std::string where = f.get();
  bool rethrown = false;
  try {
    rt.call([]() -> int { throw std::runtime_error("from the job"); });
  } catch (const std::runtime_error &) {
    rethrown = true;
  }
  bool taken_once = false;
  try {
    (void)f.get();
  } catch (const qthr::Error &e) {
    taken_once = e.status() == QTHR_INVALID_ARGUMENT;
  }
  if (where != "worker" || !rethrown || !taken_once) {
    std::fprintf(stderr, "app_cpp: where=%s rethrown=%d taken_once=%d\n", where.c_str(), rethrown, taken_once);
    return 1;
  }
  std::printf("consumer (C++) ok: qthr %u.%u.%u\n", qthr::version() >> 16, (qthr::version() >> 8) & 0xff,
              qthr::version() & 0xff);
  return 0;
}
