/* A program built against the 0.1 header (tests/c/abi/qthr-0.1.h, a verbatim copy of
 * include/qthr.h as released in 0.1) keeps working with this library: qthr_config_init
 * and qthr_get_stats write nothing past the 0.1 structs (canaries after them), and
 * qthr_init reads only cfg->size bytes, so the fields the struct gained since take their
 * defaults. Deliberately does not include testutil.h (it includes the current header). */
#define _GNU_SOURCE 1
#include "abi/qthr-0.1.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);   \
      abort();                                                             \
    }                                                                      \
  } while (0)

#define CANARY 0x5a5a5a5a5a5a5a5aull

static void *square(void *arg) {
  intptr_t x = (intptr_t)arg;
  return (void *)(x * x);
}

static int started;
static int on_start(void *ctx) {
  (void)ctx;
  started++;
  return 0;
}

int main(void) {
  struct {
    qthr_config cfg;
    uint64_t canary[4];
  } c;
  memset(&c, 0x11, sizeof c);
  for (int i = 0; i < 4; i++) c.canary[i] = CANARY;
  qthr_config_init(&c.cfg); /* the 0.1 header: the exported function itself */
  for (int i = 0; i < 4; i++) CHECK(c.canary[i] == CANARY);
  CHECK(c.cfg.size == sizeof(qthr_config));
  CHECK(sizeof(qthr_config) == 64); /* LP64 */
  CHECK(c.cfg.queue_capacity == 4096 && c.cfg.cpu == -1 && c.cfg.nonblocking == 0);
  CHECK(c.cfg.on_start == NULL && c.cfg.on_stop == NULL);

  /* What follows the struct in the caller's memory must not be read as a hook. */
  for (int i = 0; i < 4; i++) c.canary[i] = 0xdeadbeefdeadbeefull;
  c.cfg.on_start = on_start;
  qthr_runtime *rt = NULL;
  CHECK(qthr_init(&c.cfg, &rt) == QTHR_OK);
  CHECK(started == 1);
  void *r = NULL;
  CHECK(qthr_call(rt, square, (void *)(intptr_t)12, &r) == QTHR_OK);
  CHECK((intptr_t)r == 144);
  qthr_future *f = NULL;
  CHECK(qthr_submit(rt, square, (void *)(intptr_t)5, &f) == QTHR_OK);
  CHECK(qthr_wait(f, -1, &r) == QTHR_OK && (intptr_t)r == 25);
  qthr_future_free(f);

  struct {
    qthr_stats st;
    uint64_t canary[4];
  } s;
  memset(&s, 0, sizeof s);
  for (int i = 0; i < 4; i++) s.canary[i] = CANARY;
  s.st.size = sizeof s.st;
  CHECK(sizeof(qthr_stats) == 48);
  CHECK(qthr_get_stats(rt, &s.st) == QTHR_OK);
  for (int i = 0; i < 4; i++) CHECK(s.canary[i] == CANARY);
  CHECK(s.st.size == 48 && s.st.submitted == 2 && s.st.completed == 2);

  CHECK(qthr_shutdown(rt, QTHR_DRAIN) == QTHR_OK);
  qthr_free(rt);
  CHECK(qthr_version() >> 16 == QTHR_VERSION_MAJOR);
  CHECK((qthr_version() >> 8 & 0xff) >= QTHR_VERSION_MINOR);
  printf("0.1 caller against library %u.%u.%u: ok\n", qthr_version() >> 16,
         qthr_version() >> 8 & 0xff, qthr_version() & 0xff);
  return 0;
}
