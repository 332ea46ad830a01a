/* The header alone, first, as strict C99 (-std=c99 -pedantic-errors -Wall -Wextra -Werror):
 * it must bring in everything it uses. Then the contract's names and values. */
#include "qthr.h"
#include "qthr.h" /* include guard */

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The signatures of the contract, checked by assigning to exactly-typed pointers. */
static void (*const p_config_init)(qthr_config *) = qthr_config_init;
static qthr_status (*const p_init)(const qthr_config *, qthr_runtime **) = qthr_init;
static qthr_status (*const p_submit)(qthr_runtime *, qthr_fn, void *, qthr_future **) = qthr_submit;
static qthr_status (*const p_batch)(qthr_runtime *, size_t, const qthr_fn *, void *const *,
                                    qthr_future **) = qthr_submit_batch;
static qthr_status (*const p_wait)(qthr_future *, int64_t, void **) = qthr_wait;
static qthr_status (*const p_cancel)(qthr_future *) = qthr_cancel;
static qthr_status (*const p_then)(qthr_future *, void (*)(void *, qthr_status, void *),
                                   void *) = qthr_future_then;
static void (*const p_future_free)(qthr_future *) = qthr_future_free;
static qthr_status (*const p_call)(qthr_runtime *, qthr_fn, void *, void **) = qthr_call;
static int (*const p_on_worker)(const qthr_runtime *) = qthr_on_worker;
static qthr_status (*const p_shutdown)(qthr_runtime *, qthr_shutdown_mode) = qthr_shutdown;
static void (*const p_free)(qthr_runtime *) = qthr_free;
static qthr_status (*const p_stats)(const qthr_runtime *, qthr_stats *) = qthr_get_stats;
static const char *(*const p_status_str)(qthr_status) = qthr_status_str;
static uint32_t (*const p_version)(void) = qthr_version;
static void (*const p_set_log)(qthr_log_level, qthr_log_fn, void *) = qthr_set_log_callback;
static void (*const p_notify_fd)(void *, qthr_status, void *) = qthr_then_notify_fd;

#define EXPECT(c)                                                  \
  do {                                                             \
    if (!(c)) {                                                    \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #c); \
      return 1;                                                    \
    }                                                              \
  } while (0)

int main(void) {
  qthr_config cfg;
  qthr_stats st;
  const void *fns[17];
  int i;
  fns[0] = (const void *)&p_config_init;
  fns[1] = (const void *)&p_init;
  fns[2] = (const void *)&p_submit;
  fns[3] = (const void *)&p_batch;
  fns[4] = (const void *)&p_wait;
  fns[5] = (const void *)&p_cancel;
  fns[6] = (const void *)&p_then;
  fns[7] = (const void *)&p_future_free;
  fns[8] = (const void *)&p_call;
  fns[9] = (const void *)&p_on_worker;
  fns[10] = (const void *)&p_shutdown;
  fns[11] = (const void *)&p_free;
  fns[12] = (const void *)&p_stats;
  fns[13] = (const void *)&p_status_str;
  fns[14] = (const void *)&p_version;
  fns[15] = (const void *)&p_set_log;
  fns[16] = (const void *)&p_notify_fd;
  for (i = 0; i < 17; i++) EXPECT(fns[i] != NULL);

  EXPECT(sizeof(qthr_status) == 4);
  EXPECT(QTHR_OK == 0 && QTHR_TIMEOUT == 1 && QTHR_CANCELLED == 2 && QTHR_SHUTDOWN == 3);
  EXPECT(QTHR_QUEUE_FULL == 4 && QTHR_INVALID_ARGUMENT == 5 && QTHR_START_FAILED == 6);
  EXPECT(QTHR_WOULD_DEADLOCK == 7 && QTHR_FORKED == 8 && QTHR_NOT_CANCELLABLE == 9);
  EXPECT(QTHR_PANIC == 10);
  EXPECT(QTHR_DRAIN == 0 && QTHR_CANCEL == 1);
  EXPECT(QTHR_LOG_ERROR == 1 && QTHR_LOG_WARN == 2 && QTHR_LOG_INFO == 3);
  EXPECT(QTHR_LOG_DEBUG == 4 && QTHR_LOG_TRACE == 5);

  /* the struct layouts of the contract (fields in this order, at these places) */
  EXPECT(offsetof(qthr_config, size) == 0);
  EXPECT(offsetof(qthr_config, thread_name) < offsetof(qthr_config, queue_capacity));
  EXPECT(offsetof(qthr_config, queue_capacity) < offsetof(qthr_config, nonblocking));
  EXPECT(offsetof(qthr_config, nonblocking) < offsetof(qthr_config, on_start));
  EXPECT(offsetof(qthr_config, on_start) < offsetof(qthr_config, on_stop));
  EXPECT(offsetof(qthr_config, on_stop) < offsetof(qthr_config, hook_ctx));
  EXPECT(offsetof(qthr_config, hook_ctx) < offsetof(qthr_config, cpu));
  EXPECT(offsetof(qthr_stats, size) == 0);
  EXPECT(offsetof(qthr_stats, submitted) == 8);
  EXPECT(offsetof(qthr_stats, completed) == 16);
  EXPECT(offsetof(qthr_stats, cancelled) == 24);
  EXPECT(offsetof(qthr_stats, queue_len) == 32);
  EXPECT(offsetof(qthr_stats, queue_high_water) == 40);
  EXPECT(sizeof(st.submitted) == 8);

  memset(&cfg, 0, sizeof cfg);
  qthr_config_init(&cfg);
  EXPECT(cfg.size == sizeof cfg);
  EXPECT(qthr_version() == (((uint32_t)QTHR_VERSION_MAJOR << 16) |
                            ((uint32_t)QTHR_VERSION_MINOR << 8) | (uint32_t)QTHR_VERSION_PATCH));
  printf("header compiles as C99; qthr %u.%u.%u\n", (unsigned)QTHR_VERSION_MAJOR,
         (unsigned)QTHR_VERSION_MINOR, (unsigned)QTHR_VERSION_PATCH);
  return 0;
}
