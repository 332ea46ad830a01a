/* A fork child that frees the runtime (and a future) it inherited, for the leak checkers:
 * under valgrind (consumer.fork_valgrind) and LeakSanitizer (consumer.fork_lsan) neither
 * the parent nor the child may report a leak. The child's calls on the inherited runtime
 * must return QTHR_FORKED, and a runtime of its own must work. */
#include <qthr.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *job(void *arg) { return arg; }

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_stage; /* 1: the user thread has used qthr; 2: it may return */

/* Another thread of the parent that used qthr (its slot cache holds the slot of its
 * future) and is still alive at the fork: the child has no such thread. */
static void *user_thread(void *p) {
  qthr_future *mine = NULL;
  if (qthr_submit((qthr_runtime *)p, job, NULL, &mine) != QTHR_OK) return p;
  qthr_wait(mine, -1, NULL);
  qthr_future_free(mine);
  pthread_mutex_lock(&g_lock);
  g_stage = 1;
  pthread_cond_broadcast(&g_cond);
  while (g_stage != 2) pthread_cond_wait(&g_cond, &g_lock);
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

int main(void) {
  qthr_runtime *rt = NULL;
  qthr_future *f = NULL;
  void *r = NULL;
  int status = 0;
  pid_t pid;
  if (qthr_init(NULL, &rt) != QTHR_OK) return 2;
  if (qthr_submit(rt, job, (void *)1, &f) != QTHR_OK || qthr_wait(f, -1, &r) != QTHR_OK) return 3;
  /* A fire-and-forget job: the worker frees its slot into its own cache, so the worker
   * thread has a TLS destructor registered at the fork (glibc's list of them is one of the
   * two blocks the suppression files name). */
  for (int i = 0; i < 8; i++)
    if (qthr_submit(rt, job, NULL, NULL) != QTHR_OK) return 4;
  if (qthr_call(rt, job, NULL, NULL) != QTHR_OK) return 4;
  pthread_t user;
  if (pthread_create(&user, NULL, user_thread, rt) != 0) return 4;
  pthread_mutex_lock(&g_lock);
  while (g_stage != 1) pthread_cond_wait(&g_cond, &g_lock);
  pthread_mutex_unlock(&g_lock);
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
  pthread_mutex_lock(&g_lock);
  g_stage = 2;
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_lock);
  pthread_join(user, NULL);
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
