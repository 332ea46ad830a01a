/* The smallest qthr program: a job runs on the worker thread, its result comes back. */
#include <qthr.h>
#include <stdio.h>

static void *square(void *arg) {
  long x = (long)arg;
  return (void *)(x * x);
}

int main(void) {
  qthr_runtime *rt;
  if (qthr_init(NULL, &rt) != QTHR_OK) return 1;           /* default config */
  void *res;
  qthr_status st = qthr_call(rt, square, (void *)12L, &res); /* submit + wait */
  qthr_future *f;
  qthr_submit(rt, square, (void *)7L, &f);                   /* pipelined */
  void *res2;
  qthr_wait(f, -1, &res2);
  qthr_future_free(f);
  qthr_free(rt);                                             /* drains, joins the worker */
  printf("%s: %ld %ld\n", qthr_status_str(st), (long)res, (long)res2);
  return st == QTHR_OK && (long)res == 144 && (long)res2 == 49 ? 0 : 1;
}
