/* A fork child that frees the runtime (and a future) it inherited, for the leak checkers:
 * under valgrind (consumer.fork_valgrind) and LeakSanitizer (consumer.fork_lsan) neither
 * the parent nor the child may report a leak. The child's calls on the inherited runtime
 * must return QTHR_FORKED, and a runtime of its own must work. */
#include <qthr.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *job(void *arg) { return arg; }

int main(void) {
  qthr_runtime *rt = NULL;
  qthr_future *f = NULL;
  void *r = NULL;
  int status = 0;
  pid_t pid;
  if (qthr_init(NULL, &rt) != QTHR_OK) return 2;
  if (qthr_submit(rt, job, (void *)1, &f) != QTHR_OK || qthr_wait(f, -1, &r) != QTHR_OK) return 3;
  if (qthr_call(rt, job, NULL, NULL) != QTHR_OK) return 4;
  fflush(NULL);
  pid = fork();
  if (pid < 0) return 5;
  if (pid == 0) {
    qthr_runtime *own = NULL;
    int bad = qthr_call(rt, job, NULL, NULL) != QTHR_FORKED;
    qthr_future_free(f);
    qthr_free(rt);
    if (qthr_init(NULL, &own) != QTHR_OK || qthr_call(own, job, (void *)2, &r) != QTHR_OK || r != (void *)2) bad = 1;
    qthr_free(own);
    exit(bad ? 10 : 0); /* exit, not _exit: LeakSanitizer checks from an atexit handler */
  }
  if (waitpid(pid, &status, 0) != pid) return 6;
  qthr_future_free(f);
  qthr_free(rt);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "fork_free: the child failed (status %d)\n", status);
    return 7;
  }
  printf("fork_free ok\n");
  return 0;
}
