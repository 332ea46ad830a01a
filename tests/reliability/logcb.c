/* qthr_set_log_callback: once it returns, the previous callback is not running
 * and is never called again with the previous context (a host frees that
 * context right after unregistering). Two threads start and stop runtimes (INFO records)
 * while the main thread installs and removes a callback 20000 times; the
 * callback checks that its context is the one currently installed. */
#include "testutil.h"

static _Atomic long current = -1; /* the ctx whose callback is installed */
static _Atomic long late, calls;
static _Atomic int stop;

static void cb(void *ctx, qthr_log_level lvl, const char *msg) {
  (void)lvl;
  CHECK(msg != NULL);
  atomic_fetch_add(&calls, 1);
  if ((long)(intptr_t)ctx != atomic_load(&current)) atomic_fetch_add(&late, 1);
}

static void *churn(void *p) {
  (void)p;
  while (!atomic_load(&stop)) {
    qthr_runtime *rt;
    if (qthr_init(NULL, &rt) == QTHR_OK) qthr_free(rt);
  }
  return NULL;
}

static void unregistered_callback_never_runs(void) {
  pthread_t t[2];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, churn, NULL) == 0);
  long n = (long)tu_scaled(20000);
  for (long i = 0; i < n; i++) {
    atomic_store(&current, i);
    qthr_set_log_callback(QTHR_LOG_TRACE, cb, (void *)(intptr_t)i);
    for (volatile int k = 0; k < 2000; k++) {
    }
    qthr_set_log_callback(QTHR_LOG_TRACE, NULL, NULL);
    atomic_store(&current, -1); /* from here on, context i is gone */
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  printf("logcb: %ld callbacks, %ld after their context was unregistered\n", atomic_load(&calls),
         atomic_load(&late));
  CHECK(atomic_load(&late) == 0);
}

int main(int argc, char **argv) {
  tu_watchdog(120);
  RUN(unregistered_callback_never_runs);
  return 0;
}
