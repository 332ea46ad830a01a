"""qthr.CDEF: the C declarations of qthr.h, ready for cffi's ``ffi.cdef()``.

The same names, types and layouts as include/qthr.h (0.2), without the
preprocessor parts cffi does not read. A test checks it against the header.

    import cffi, qthr
    ffi = cffi.FFI()
    ffi.cdef(qthr.CDEF)
    lib = ffi.dlopen(qthr.library_path())
"""

__all__ = ["CDEF"]

#: C declarations of the qthr API for ``cffi.FFI().cdef`` (ABI or API mode).
CDEF = """
typedef uint32_t qthr_status;
#define QTHR_OK 0
#define QTHR_TIMEOUT 1
#define QTHR_CANCELLED 2
#define QTHR_SHUTDOWN 3
#define QTHR_QUEUE_FULL 4
#define QTHR_INVALID_ARGUMENT 5
#define QTHR_START_FAILED 6
#define QTHR_WOULD_DEADLOCK 7
#define QTHR_FORKED 8
#define QTHR_NOT_CANCELLABLE 9
#define QTHR_PANIC 10
#define QTHR_NO_MEMORY 11
#define QTHR_EXPIRED 12

typedef uint32_t qthr_shutdown_mode;
#define QTHR_DRAIN 0
#define QTHR_CANCEL 1

typedef uint32_t qthr_log_level;
#define QTHR_LOG_ERROR 1
#define QTHR_LOG_WARN 2
#define QTHR_LOG_INFO 3
#define QTHR_LOG_DEBUG 4
#define QTHR_LOG_TRACE 5

typedef struct qthr_future qthr_future;
typedef struct qthr_runtime qthr_runtime;

typedef struct qthr_config {
  size_t size;
  const char *thread_name;
  size_t queue_capacity;
  int nonblocking;
  int (*on_start)(void *hook_ctx);
  void (*on_stop)(void *hook_ctx);
  void *hook_ctx;
  int cpu;
  void (*on_interrupt)(void *hook_ctx);
} qthr_config;

typedef void *(*qthr_fn)(void *arg);
typedef void (*qthr_then_fn)(void *ctx, qthr_status st, void *result);

typedef struct qthr_stats {
  size_t size;
  uint64_t submitted;
  uint64_t completed;
  uint64_t cancelled;
  uint64_t queue_len;
  uint64_t queue_high_water;
  uint64_t expired;
} qthr_stats;

typedef struct qthr_submit_opts {
  size_t size;
  int64_t deadline_ns;
  uint32_t priority;
} qthr_submit_opts;

typedef void (*qthr_log_fn)(void *ctx, qthr_log_level level, const char *message);

void qthr_config_init(struct qthr_config *cfg);
void qthr_config_init_sized(struct qthr_config *cfg, size_t size);
qthr_status qthr_init(const struct qthr_config *cfg, struct qthr_runtime **out);
qthr_status qthr_submit(struct qthr_runtime *rt, qthr_fn func, void *arg, struct qthr_future **out);
qthr_status qthr_submit_ex(struct qthr_runtime *rt, qthr_fn func, void *arg, const struct qthr_submit_opts *opts, struct qthr_future **out);
qthr_status qthr_submit_batch(struct qthr_runtime *rt, size_t n, const qthr_fn *fns, void *const *args, struct qthr_future **outs);
qthr_status qthr_wait(struct qthr_future *f, int64_t timeout_ns, void **result);
qthr_status qthr_cancel(struct qthr_future *f);
qthr_status qthr_interrupt(struct qthr_future *f);
qthr_status qthr_future_then(struct qthr_future *f, qthr_then_fn cb, void *ctx);
void qthr_future_free(struct qthr_future *f);
qthr_status qthr_call(struct qthr_runtime *rt, qthr_fn func, void *arg, void **result);
int qthr_on_worker(const struct qthr_runtime *rt);
qthr_status qthr_shutdown(struct qthr_runtime *rt, qthr_shutdown_mode mode);
qthr_status qthr_shutdown_begin(struct qthr_runtime *rt, qthr_shutdown_mode mode);
void qthr_free(struct qthr_runtime *rt);
qthr_status qthr_get_stats(const struct qthr_runtime *rt, struct qthr_stats *out);
const char *qthr_status_str(qthr_status st);
uint32_t qthr_version(void);
void qthr_set_log_callback(qthr_log_level max_level, qthr_log_fn cb, void *ctx);
void qthr_then_notify_fd(void *ctx, qthr_status st, void *result);
"""
