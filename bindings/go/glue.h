// C side of the Go binding: the trampolines qthr calls on its worker thread and
// small wrappers that save cgo transitions. Go pointers never reach this code: a
// job is identified by a runtime/cgo.Handle, an integer passed by value as the
// job's void* argument.
#ifndef QTHR_GO_GLUE_H
#define QTHR_GO_GLUE_H

#include <stdint.h>
#include <stddef.h>
#include "qthr.h"

// qthr_submit of the Go job h, plus qthr_future_then so that a job that never
// runs (cancelled, or dropped by qthr_shutdown(QTHR_CANCEL)) still resolves its
// Go future. One cgo transition for both. deadline_ns / priority: see
// qthr_submit_opts (both 0: plain qthr_submit). out NULL: the future is released
// at once (fire and forget). linger_ns > 0: wait that long for the job to
// finish before returning (see Runtime.submitLinger).
qthr_status qthrgo_submit(qthr_runtime *rt, uintptr_t h, int64_t deadline_ns, uint32_t priority,
                          qthr_future **out, int64_t linger_ns);
// Withdraws a queued job, or interrupts a running one (qthr_interrupt).
qthr_status qthrgo_stop(qthr_future *f);
// qthr_call of the Go job h (runs inline when called on the worker).
qthr_status qthrgo_call(qthr_runtime *rt, uintptr_t h);
// qthr_call of a C function: no Go code runs on the worker.
qthr_status qthrgo_call_c(qthr_runtime *rt, void *fn, void *arg, void **result);
// qthr_init with the Go hooks (the cgo.Handle of their struct), always
// nonblocking; interruptible: install on_interrupt.
qthr_status qthrgo_init(const char *name, size_t queue_capacity, int cpu, uintptr_t hooks,
                        int interruptible, qthr_runtime **out);
// 1 on the worker thread of any runtime created by this binding.
int qthrgo_on_worker_thread(void);
// qthr_set_log_callback with the Go log sink (max_level 0: off).
void qthrgo_set_log(int max_level);
// sizeof(qthr_stats) and a qthr_get_stats that fills a C struct passed by the caller.
qthr_status qthrgo_stats(const qthr_runtime *rt, uint64_t out[6]);

#endif
