// The header alone, first, as C++ (-Wall -Wextra -Werror -pedantic): it must compile and
// link (extern "C") from C++ and give the contract's types.
#include "qthr.h"

#include <cstdio>
#include <type_traits>

static_assert(sizeof(qthr_status) == 4, "qthr_status is 32 bits wide");
static_assert(QTHR_OK == 0 && QTHR_PANIC == 10, "status values");
static_assert(QTHR_DRAIN == 0 && QTHR_CANCEL == 1, "shutdown modes");
static_assert(std::is_same<qthr_fn, void *(*)(void *)>::value, "qthr_fn");
static_assert(std::is_same<decltype(&qthr_wait), qthr_status (*)(qthr_future *, int64_t, void **)>::value,
              "qthr_wait");
static_assert(std::is_same<decltype(&qthr_on_worker), int (*)(const qthr_runtime *)>::value,
              "qthr_on_worker");
static_assert(std::is_same<decltype(&qthr_version), uint32_t (*)()>::value, "qthr_version");
static_assert(std::is_standard_layout<qthr_config>::value, "qthr_config is a C struct");
static_assert(std::is_standard_layout<qthr_stats>::value, "qthr_stats is a C struct");

extern "C" {
static void *job(void *arg) { return static_cast<char *>(arg) + 1; }
}

int main() {
  qthr_config cfg;
  qthr_config_init(&cfg);
  cfg.thread_name = "cxx";
  qthr_runtime *rt = nullptr;
  if (qthr_init(&cfg, &rt) != QTHR_OK) return 1;
  char buf[2] = {0, 0};
  void *res = nullptr;
  qthr_status st = qthr_call(rt, job, buf, &res);
  qthr_free(rt);
  if (st != QTHR_OK || res != buf + 1) {
    std::fprintf(stderr, "call from C++ failed: %s\n", qthr_status_str(st));
    return 1;
  }
  std::printf("header compiles and links as C++ (version %u)\n", qthr_version());
  return 0;
}
