// Implementation of glue.h; see there. Compiled by cgo with the package's flags.
#include "glue.h"
#include "_cgo_export.h"

// The job function of every Go job: arg names the job's slot (index and generation).
static void *qthrgo_job(void *arg) {
	qthrGoJob((uintptr_t)arg);
	return NULL;
}

// Runs exactly once per Go future. For a job that ran (QTHR_OK) the Go side was
// already resolved by qthrGoJob on the worker, so nothing enters Go here: the
// common path costs no second C->Go transition. Only a job that never ran calls
// into Go.
static void qthrgo_then(void *ctx, qthr_status st, void *result) {
	(void)result;
	if (st != QTHR_OK) {
		qthrGoResolved((uintptr_t)ctx, (uint32_t)st);
	}
}

static qthr_status submit_then(qthr_runtime *rt, uintptr_t h, int64_t deadline_ns, uint32_t priority,
                               qthr_future **out) {
	qthr_future *f = NULL;
	qthr_status st;
	if (deadline_ns == 0 && priority == 0) {
		st = qthr_submit(rt, qthrgo_job, (void *)h, &f);
	} else {
		qthr_submit_opts opts = {sizeof opts, deadline_ns, priority};
		st = qthr_submit_ex(rt, qthrgo_job, (void *)h, &opts, &f);
	}
	if (st != QTHR_OK) {
		return st;
	}
	qthr_status tst = qthr_future_then(f, qthrgo_then, (void *)h);
	if (tst != QTHR_OK) {
		// Could not attach the callback. If the job can still be withdrawn, do so
		// and report the failure (the Go side releases the handle); otherwise it
		// has started or finished and qthrGoJob resolves the Go future.
		if (qthr_cancel(f) == QTHR_OK) {
			qthr_future_free(f);
			return tst;
		}
	}
	*out = f;
	return QTHR_OK;
}

qthr_status qthrgo_submit(qthr_runtime *rt, uintptr_t h, int64_t deadline_ns, uint32_t priority,
                          qthr_future **out, int64_t linger_ns) {
	qthr_future *f = NULL;
	qthr_status st = submit_then(rt, h, deadline_ns, priority, &f);
	if (st != QTHR_OK) {
		return st;
	}
	if (linger_ns > 0) {
		// See Runtime.submit: stay in C (the P stealable) while a short job runs.
		(void)qthr_wait(f, linger_ns, NULL);
	}
	if (out != NULL) {
		*out = f;
	} else {
		qthr_future_free(f);
	}
	return QTHR_OK;
}

qthr_status qthrgo_stop(qthr_future *f) {
	return qthr_interrupt(f);
}

qthr_status qthrgo_call(qthr_runtime *rt, uintptr_t h) {
	return qthr_call(rt, qthrgo_job, (void *)h, NULL);
}

qthr_status qthrgo_call_c(qthr_runtime *rt, void *fn, void *arg, void **result) {
	if (fn == NULL) {
		return QTHR_INVALID_ARGUMENT;
	}
	return qthr_call(rt, (qthr_fn)fn, arg, result);
}

// Set on the worker threads of the runtimes this binding created.
static __thread int qthrgo_worker_thread;

int qthrgo_on_worker_thread(void) {
	return qthrgo_worker_thread;
}

static int qthrgo_on_start(void *ctx) {
	qthrgo_worker_thread = 1;
	if (ctx == NULL) {
		return 0;
	}
	int rc = qthrGoOnStart((uintptr_t)ctx);
	if (rc != 0) {
		qthrgo_worker_thread = 0;
	}
	return rc;
}

static void qthrgo_on_interrupt(void *ctx) {
	qthrGoOnInterrupt((uintptr_t)ctx);
}

static void qthrgo_on_stop(void *ctx) {
	if (ctx != NULL) {
		qthrGoOnStop((uintptr_t)ctx);
	}
	qthrgo_worker_thread = 0;
}

qthr_status qthrgo_init(const char *name, size_t queue_capacity, int cpu, uintptr_t hooks,
                        int interruptible, qthr_runtime **out) {
	qthr_config cfg;
	// Every field of the header this is compiled against (the function-like
	// macro qthr_config_init does the same; cgo cannot call macros).
	qthr_config_init_sized(&cfg, sizeof cfg);
	if (name != NULL) {
		cfg.thread_name = name;
	}
	if (queue_capacity != 0) {
		cfg.queue_capacity = queue_capacity;
	}
	// Always nonblocking: a submitter that finds the queue full waits in Go
	// (room.go), not in C holding an OS thread.
	cfg.nonblocking = 1;
	cfg.cpu = cpu;
	cfg.on_start = qthrgo_on_start;
	cfg.on_stop = qthrgo_on_stop;
	cfg.hook_ctx = (void *)hooks;
	cfg.on_interrupt = interruptible ? qthrgo_on_interrupt : NULL;
	return qthr_init(&cfg, out);
}

static void qthrgo_log(void *ctx, qthr_log_level level, const char *message) {
	(void)ctx;
	qthrGoLog((int)level, (char *)message);
}

void qthrgo_set_log(int max_level) {
	if (max_level <= 0) {
		qthr_set_log_callback(QTHR_LOG_ERROR, NULL, NULL);
	} else {
		qthr_set_log_callback((qthr_log_level)max_level, qthrgo_log, NULL);
	}
}

qthr_status qthrgo_stats(const qthr_runtime *rt, uint64_t out[6]) {
	qthr_stats s;
	s.size = sizeof s;
	qthr_status st = qthr_get_stats(rt, &s);
	if (st == QTHR_OK) {
		out[0] = s.submitted;
		out[1] = s.completed;
		out[2] = s.cancelled;
		out[3] = s.queue_len;
		out[4] = s.queue_high_water;
		out[5] = s.expired;
	}
	return st;
}
