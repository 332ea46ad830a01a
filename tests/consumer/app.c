/* A consumer of an installed qthr: one job on the worker, checked. Built by the CMake
 * (find_package) and the Makefile (pkg-config) consumer tests, shared and static. */
#include <qthr.h>

#include <stdio.h>
#include <string.h>

static void *job(void *arg) {
  const qthr_runtime *rt = (const qthr_runtime *)arg;
  return (void *)(qthr_on_worker(rt) ? "on the worker" : "NOT on the worker");
}

int main(void) {
  qthr_config cfg;
  qthr_runtime *rt = NULL;
  void *res = NULL;
  qthr_status st;
  qthr_config_init(&cfg);
  cfg.thread_name = "consumer";
  st = qthr_init(&cfg, &rt);
  if (st != QTHR_OK) {
    fprintf(stderr, "qthr_init: %s\n", qthr_status_str(st));
    return 1;
  }
  st = qthr_call(rt, job, rt, &res);
  qthr_free(rt);
  if (st != QTHR_OK || strcmp((const char *)res, "on the worker") != 0) {
    fprintf(stderr, "qthr_call: %s\n", qthr_status_str(st));
    return 1;
  }
  if (qthr_version() != (((unsigned)QTHR_VERSION_MAJOR << 16) | ((unsigned)QTHR_VERSION_MINOR << 8) |
                         (unsigned)QTHR_VERSION_PATCH)) {
    fprintf(stderr, "header and library versions differ\n");
    return 1;
  }
  printf("consumer ok: qthr %u.%u.%u, job ran %s\n", qthr_version() >> 16,
         (qthr_version() >> 8) & 0xff, qthr_version() & 0xff, (const char *)res);
  return 0;
}
