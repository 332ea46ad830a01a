/**
 * \file qthr.hpp
 * \brief Header-only C++17 binding over the qthr C ABI (include/qthr.h).
 *
 * qthr confines a single-threaded "engine" library (embedded q, an SQLite
 * connection opened without mutexes, a Lua state, ...) to ONE dedicated worker
 * thread, and lets every thread call into it through futures.
 *
 * \code
 * qthr::Runtime rt{qthr::Options{}.thread_name("engine").on_start([] { engine_init(); })};
 * qthr::Future<int> f = rt.submit([] { return engine_query(); });
 * int v = f.get();                  // rethrows whatever the callable threw; taken once
 * int w = rt.call([] { return 7; }); // submit + get, no heap allocation
 * rt.submit(load).then([](qthr::Future<Row> r) { show(r.get()); });   // on completion
 * auto g = rt.submit(qthr::SubmitOptions{}.deadline(std::chrono::milliseconds(50)).urgent(), fn);
 * g.interrupt();                     // withdraw, or Options::on_interrupt if running
 * int x = co_await rt.submit(query); // C++20: resumes on the worker, or via(executor)
 * \endcode
 *
 * Guarantees of the binding:
 * - No C++ exception ever unwinds through the worker's C frames: jobs and hooks
 *   are run inside `try { ... } catch (...)` in the trampolines, and what they
 *   threw is carried back (std::exception_ptr) to get(), call() or the Runtime
 *   constructor.
 * - Dropping a Future never cancels its job, and never leaks or dangles: the
 *   job's state is shared by the Future and the completion callback
 *   (qthr_future_then), and freed by whichever lets go last, whether the job
 *   ran, was cancelled, or was cancelled by shutdown(Shutdown::cancel).
 * - Runtime::submit makes exactly one heap allocation of its own (callable,
 *   bound arguments and result slot together); Runtime::call makes none.
 * - ThreadSanitizer runs of a program using qthr.hpp and libqthr.so are clean,
 *   although the library is not instrumented: under -fsanitize=thread the header
 *   adds happens-before annotations for every hand-off (job to worker, result
 *   to get(), hook state to the worker and back; QTHR_CPP_NO_TSAN_ANNOTATIONS
 *   leaves them out) and defines the program's __tsan_default_suppressions as
 *   "called_from_lib:libqthr.so" (the library's own malloc/free;
 *   QTHR_CPP_NO_TSAN_SUPPRESSIONS leaves it out). Races in jobs and in the
 *   program itself are still reported.
 * - The header's extern "C" trampolines have hidden visibility: a shared
 *   object built with qthr.hpp exports none of them, so two shared objects
 *   built against different versions of the header never share one.
 *
 * Requirements: C++17 or later (a clear #error otherwise), exceptions enabled
 * (failures are reported as qthr::Error, and a job's exception is carried back
 * to get(); with -fno-exceptions the header stops with an #error: use the C API
 * of qthr.h, whose functions return a qthr_status, instead).
 *
 * Failures of the library itself (queue full, shut down, ...) throw qthr::Error.
 */
#ifndef QTHR_HPP
#define QTHR_HPP

#ifndef __cplusplus
#error "qthr.hpp is the C++ binding; C programs include <qthr.h>"
#endif

#if defined(_MSVC_LANG) && _MSVC_LANG > __cplusplus
#define QTHR_CPP_STD _MSVC_LANG
#else
#define QTHR_CPP_STD __cplusplus
#endif
#if QTHR_CPP_STD < 201703L
#error "qthr.hpp needs C++17 or later (e.g. -std=c++17); from C++11/14 code use the C API in <qthr.h>"
#endif

#if !defined(__cpp_exceptions) && !defined(__EXCEPTIONS) && !defined(_CPPUNWIND)
#error "qthr.hpp needs C++ exceptions (it throws qthr::Error and rethrows a job's exception from get()); with -fno-exceptions use the C API in <qthr.h>, whose functions return a qthr_status"
#endif

#include <qthr.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#if QTHR_CPP_STD >= 202002L && defined(__cpp_impl_coroutine) && defined(__has_include)
#if __has_include(<coroutine>)
#include <coroutine>
/// \brief Defined (to 1) when qthr::Future is awaitable (C++20 coroutines).
#define QTHR_CPP_HAS_COROUTINES 1
#endif
#endif

/// \cond QTHR_DETAIL
#if defined(__GNUC__) || defined(__clang__)
#define QTHR_CPP_HIDDEN __attribute__((visibility("hidden")))
#else
#define QTHR_CPP_HIDDEN
#endif

// ThreadSanitizer: the library synchronises with atomics TSan does not see (it is
// not instrumented), so every hand-off between threads that goes through it is
// announced here: release on the sending side, acquire on the receiving side.
#if defined(__SANITIZE_THREAD__)
#define QTHR_CPP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QTHR_CPP_TSAN 1
#endif
#endif
#if defined(QTHR_CPP_TSAN) && !defined(QTHR_CPP_NO_TSAN_ANNOTATIONS)
extern "C" void __tsan_acquire(void *addr);
extern "C" void __tsan_release(void *addr);
#define QTHR_CPP_HB_RELEASE(p) __tsan_release(const_cast<void *>(static_cast<const volatile void *>(p)))
#define QTHR_CPP_HB_ACQUIRE(p) __tsan_acquire(const_cast<void *>(static_cast<const volatile void *>(p)))
#else
#define QTHR_CPP_HB_RELEASE(p) ((void)0)
#define QTHR_CPP_HB_ACQUIRE(p) ((void)0)
#endif
#if defined(QTHR_CPP_TSAN) && !defined(QTHR_CPP_NO_TSAN_SUPPRESSIONS)
// Inside the (uninstrumented) library, memory allocated on one thread is freed on
// another after a hand-off TSan cannot see: "called_from_lib" makes TSan ignore the
// malloc/free (and other intercepted calls) made by libqthr.so itself, nothing else;
// races in jobs and in the program are still reported. TSan reads this hook of the
// program at start-up; a program with its own __tsan_default_suppressions defines
// QTHR_CPP_NO_TSAN_SUPPRESSIONS and adds the line (share/qthr/tsan.supp has it).
extern "C" __attribute__((used)) inline const char *__tsan_default_suppressions() { return "called_from_lib:libqthr.so\n"; }
#endif

// Trampolines handed to the C library. They have C language linkage (the C ABI
// takes plain C function pointers); being inline, they may be defined in every
// translation unit that includes this header; hidden, so that no shared object
// exports them. Each one dispatches to a virtual member, so one non-template
// trampoline serves every job type.
extern "C" {
QTHR_CPP_HIDDEN inline void *qthr_cpp_detail_run_job(void *job);
QTHR_CPP_HIDDEN inline void qthr_cpp_detail_job_resolved(void *job, qthr_status st, void *result);
QTHR_CPP_HIDDEN inline void qthr_cpp_detail_continuation(void *ctx, qthr_status st, void *result);
QTHR_CPP_HIDDEN inline int qthr_cpp_detail_on_start(void *hook_ctx);
QTHR_CPP_HIDDEN inline void qthr_cpp_detail_on_stop(void *hook_ctx);
QTHR_CPP_HIDDEN inline void qthr_cpp_detail_on_interrupt(void *hook_ctx);
}
/// \endcond

/// \brief Everything of the C++ binding lives in this namespace.
namespace qthr {

/**
 * \brief A failure of the qthr library itself (not of a job).
 *
 * what() is qthr_status_str(status()), or a more precise message for the
 * binding's own checks. Exceptions thrown by jobs and hooks are not wrapped:
 * they come back as they were thrown.
 */
class Error : public std::runtime_error {
public:
  /// \brief An error for status `st`; the message is qthr_status_str(st).
  explicit Error(qthr_status st) : std::runtime_error(qthr_status_str(st)), status_(st) {}

  /// \brief An error for status `st` with its own message.
  Error(qthr_status st, const char *what) : std::runtime_error(what), status_(st) {}

  /// \brief The qthr_status that caused the error (e.g. QTHR_CANCELLED, QTHR_SHUTDOWN).
  qthr_status status() const noexcept { return status_; }

private:
  qthr_status status_;
};

/// \brief How Runtime::shutdown treats jobs that are still queued.
enum class Shutdown {
  drain = QTHR_DRAIN,  ///< run every queued job, then stop (what the destructor does)
  cancel = QTHR_CANCEL ///< resolve every queued job as cancelled; a running job still finishes
};

/// \brief qthr_version() of the loaded library: major<<16 | minor<<8 | patch.
inline std::uint32_t version() noexcept { return qthr_version(); }

template <class T>
class Future;

/// \cond QTHR_DETAIL
namespace detail {

/// Throws qthr::Error(st) unless st is QTHR_OK.
inline void check(qthr_status st) {
  if (st != QTHR_OK) throw Error(st);
}

/// What on_interrupt threw, on the interrupting thread (the hook runs inside
/// qthr_interrupt, on the thread of Future::interrupt, which rethrows it).
inline std::exception_ptr &interrupt_error() noexcept {
  static thread_local std::exception_ptr e;
  return e;
}

/// Nanoseconds of a deadline for qthr_submit_opts (> 0; saturates at INT64_MAX).
template <class Rep, class Period>
std::int64_t to_deadline_ns(const std::chrono::duration<Rep, Period> &d) {
  using namespace std::chrono;
  if (d <= d.zero()) throw Error(QTHR_INVALID_ARGUMENT, "qthr::SubmitOptions::deadline: must be positive");
  if (duration<double, std::nano>(d).count() >= 9.2e18) return INT64_MAX;
  auto ns = duration_cast<nanoseconds>(d);
  if (ns < d) ++ns; // round up
  return ns.count() > 0 ? static_cast<std::int64_t>(ns.count()) : 1;
}

/// A type-erased hook (on_start / on_stop / on_interrupt): accepts any callable, move-only ones too.
struct Hook {
  virtual ~Hook() = default;
  virtual void invoke() = 0;
};

template <class F>
struct HookImpl final : Hook {
  template <class G>
  explicit HookImpl(G &&g) : fn(std::forward<G>(g)) {}
  void invoke() override { std::invoke(fn); }
  F fn;
};

/// State of a Runtime that the worker reaches through hook_ctx; on the heap, so
/// that moving a Runtime never moves what the worker points to.
struct RuntimeState {
  std::string thread_name;
  std::shared_ptr<Hook> on_start;
  std::shared_ptr<Hook> on_stop;
  std::shared_ptr<Hook> on_interrupt;
  std::exception_ptr start_error; // written on the worker, read after qthr_init returns
  std::exception_ptr stop_error;  // written on the worker, read after the worker is joined
  // Set when the Runtime was destroyed on its own worker: qthr_free does not wait
  // there, so on_stop (always installed) frees this state when the worker stops.
  bool orphaned = false;
};

/// Base of everything passed as the `arg` of a qthr_fn: the trampoline calls run().
struct JobBase {
  virtual void run() noexcept = 0;
  virtual void resolved(qthr_status st) noexcept = 0;

protected:
  ~JobBase() = default;
};

/// Stores the outcome of a job: its value (if any) or what it threw.
template <class T>
struct Outcome {
  std::optional<T> value;
  std::exception_ptr error;
  template <class F>
  void produce(F &&f) noexcept {
    try {
      value.emplace(std::forward<F>(f)());
    } catch (...) {
      error = std::current_exception();
    }
  }
};

template <>
struct Outcome<void> {
  std::exception_ptr error;
  template <class F>
  void produce(F &&f) noexcept {
    try {
      std::forward<F>(f)();
    } catch (...) {
      error = std::current_exception();
    }
  }
};

/// The shared state of a submitted job, seen by its Future. Two references:
/// the Future's, and the completion callback's (released exactly once by
/// qthr_future_then's callback: after the job ran, or when it was cancelled).
template <class T>
struct SharedState : JobBase {
  Outcome<T> outcome;
  // Set by the one get() that takes the outcome; any other get() throws.
  std::atomic<bool> retrieved{false};
  std::atomic<int> refs{2};

  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
  }

protected:
  ~SharedState() = default;
  virtual void destroy() noexcept = 0;
};

/// A submitted job: the callable and its decayed arguments, stored in place
/// next to the result slot (the one heap allocation of Runtime::submit).
template <class T, class Fn, class... Args>
struct Job final : SharedState<T> {
  template <class F, class... A>
  explicit Job(F &&f, A &&...a) {
    bound.emplace(std::forward<F>(f), std::forward<A>(a)...);
  }

  void run() noexcept override {
    this->outcome.produce([this]() -> decltype(auto) {
      return std::apply(std::move(bound->fn), std::move(bound->args));
    });
    // Destroy the callable (and its captures) here, on the worker, right after it ran.
    bound.reset();
  }

  void resolved(qthr_status) noexcept override {
    // Never ran (cancelled, interrupted while queued, expired): the captures die on
    // the thread that resolved it.
    bound.reset();
    this->release();
  }

private:
  struct Bound {
    template <class F, class... A>
    explicit Bound(F &&f, A &&...a) : fn(std::forward<F>(f)), args(std::forward<A>(a)...) {}
    Fn fn;
    std::tuple<Args...> args;
  };
  std::optional<Bound> bound;

  void destroy() noexcept override { delete this; }
};

/// The job of Runtime::call: lives on the caller's stack, refers to the
/// caller's callable and arguments (the caller blocks until it is resolved).
template <class T, class F, class... Args>
struct CallFrame final : JobBase {
  CallFrame(F &&f, Args &&...a) : fn(std::forward<F>(f)), args(std::forward<Args>(a)...) {}
  void run() noexcept override {
    outcome.produce([this]() -> decltype(auto) {
      return std::apply(std::forward<F>(fn), std::move(args));
    });
  }
  void resolved(qthr_status) noexcept override {}

  F &&fn;
  std::tuple<Args &&...> args;
  Outcome<T> outcome;
};

/// A callback registered with qthr_future_then by the binding (Future::then, the
/// coroutine awaiter): the trampoline calls fire() exactly once.
struct Continuation {
  virtual void fire() noexcept = 0;

protected:
  ~Continuation() = default;
};

/// Future::then: owns the Future until the job is resolved, then hands it to the callable.
template <class T, class F>
struct ThenCall final : Continuation {
  template <class G>
  explicit ThenCall(G &&g) : fn(std::forward<G>(g)) {}
  // noexcept: an exception escaping the user's callable calls std::terminate.
  void fire() noexcept override {
    std::unique_ptr<ThenCall> self(this);
    std::invoke(fn, std::move(future));
  }
  F fn;
  Future<T> future;
};

/// Nanoseconds for qthr_wait: <=0 polls, too long to represent waits forever (-1).
template <class Rep, class Period>
std::int64_t to_timeout_ns(const std::chrono::duration<Rep, Period> &d) {
  using namespace std::chrono;
  if (d <= d.zero()) return 0;
  // Compare in floating point so that huge durations (hours::max()) cannot overflow.
  if (duration<double, std::nano>(d).count() >= 9.0e18) return -1;
  auto ns = duration_cast<nanoseconds>(d);
  if (ns < d) ++ns; // round up: never time out before the requested duration
  return static_cast<std::int64_t>(ns.count());
}

#if defined(QTHR_CPP_HAS_COROUTINES)
template <class T, class Executor>
class Awaiter;
#endif

} // namespace detail
/// \endcond

/**
 * \brief Configuration of a Runtime; fluent setters, each returning the Options.
 *
 * \code
 * qthr::Runtime rt{qthr::Options{}.thread_name("engine").queue_capacity(1024)
 *                    .on_start([] { load_engine(); }).on_stop([] { unload_engine(); })};
 * \endcode
 *
 * Options is copyable; copies share their hooks (the same callable object).
 */
class Options {
public:
  /// \brief Default options: thread "qthr", 4096 queued jobs, blocking submit, no pinning, no hooks.
  Options() = default;

  /// \brief Name of the worker thread (truncated to the OS limit, 15 bytes on Linux).
  Options &thread_name(std::string name) & {
    thread_name_ = std::move(name);
    return *this;
  }
  /// \copydoc thread_name(std::string) &
  Options &&thread_name(std::string name) && { return std::move(thread_name(std::move(name))); }

  /// \brief How many jobs may wait in the queue (default 4096).
  Options &queue_capacity(std::size_t n) & {
    queue_capacity_ = n;
    return *this;
  }
  /// \copydoc queue_capacity(std::size_t) &
  Options &&queue_capacity(std::size_t n) && { return std::move(queue_capacity(n)); }

  /// \brief true: submit on a full queue throws Error(QTHR_QUEUE_FULL) instead of waiting for room.
  Options &nonblocking(bool on = true) & {
    nonblocking_ = on;
    return *this;
  }
  /// \copydoc nonblocking(bool) &
  Options &&nonblocking(bool on = true) && { return std::move(nonblocking(on)); }

  /// \brief Pin the worker to this CPU; -1 (the default) does not pin.
  Options &cpu(int cpu) & {
    cpu_ = cpu;
    return *this;
  }
  /// \copydoc cpu(int) &
  Options &&cpu(int cpu) && { return std::move(this->cpu(cpu)); }

  /**
   * \brief Runs on the worker before any job, e.g. to load the engine on "its" thread.
   *
   * Any callable taking no argument (move-only ones too); its result is ignored.
   * If it throws, the Runtime constructor throws that same exception.
   */
  template <class F>
  Options &on_start(F &&f) & {
    on_start_ = make_hook(std::forward<F>(f));
    return *this;
  }
  /// \copydoc on_start(F&&) &
  template <class F>
  Options &&on_start(F &&f) && {
    return std::move(on_start(std::forward<F>(f)));
  }

  /**
   * \brief Runs on the worker after the last job (at shutdown), e.g. to close the engine.
   *
   * Any callable taking no argument. If it throws, an explicit Runtime::shutdown()
   * rethrows the exception; the destructor swallows it.
   */
  template <class F>
  Options &on_stop(F &&f) & {
    on_stop_ = make_hook(std::forward<F>(f));
    return *this;
  }
  /// \copydoc on_stop(F&&) &
  template <class F>
  Options &&on_stop(F &&f) && {
    return std::move(on_stop(std::forward<F>(f)));
  }

  /**
   * \brief (0.2) Asks the engine to stop the running job: Future::interrupt() calls it.
   *
   * Any callable taking no argument. It runs ON THE INTERRUPTING THREAD (the one
   * calling Future::interrupt()), while a job runs on the worker, so it must only do
   * what the engine allows from another thread: `sqlite3_interrupt(db)`, setting a
   * flag the job polls, `lua_sethook`. It never overlaps a later job, but may still
   * be returning just after the job did: let the engine (or each job) clear such a
   * flag when its next call starts. If it throws, Future::interrupt() rethrows.
   * \code
   * qthr::Runtime rt{qthr::Options{}.on_start(open_db).on_interrupt([&] { sqlite3_interrupt(db); })};
   * \endcode
   */
  template <class F>
  Options &on_interrupt(F &&f) & {
    on_interrupt_ = make_hook(std::forward<F>(f));
    return *this;
  }
  /// \copydoc on_interrupt(F&&) &
  template <class F>
  Options &&on_interrupt(F &&f) && {
    return std::move(on_interrupt(std::forward<F>(f)));
  }

private:
  friend class Runtime;

  template <class F>
  static std::shared_ptr<detail::Hook> make_hook(F &&f) {
    static_assert(std::is_invocable_v<std::decay_t<F> &>,
                  "qthr::Options hooks must be callable with no arguments");
    return std::make_shared<detail::HookImpl<std::decay_t<F>>>(std::forward<F>(f));
  }

  std::optional<std::string> thread_name_;
  std::optional<std::size_t> queue_capacity_;
  bool nonblocking_ = false;
  int cpu_ = -1;
  std::shared_ptr<detail::Hook> on_start_;
  std::shared_ptr<detail::Hook> on_stop_;
  std::shared_ptr<detail::Hook> on_interrupt_;
};

/**
 * \brief (0.2) Per-job options for Runtime::submit(const SubmitOptions &, F &&, Args &&...).
 *
 * \code
 * auto f = rt.submit(qthr::SubmitOptions{}.deadline(std::chrono::milliseconds(50)).urgent(), fn);
 * \endcode
 */
class SubmitOptions {
public:
  /// \brief No deadline, normal priority: the same as the plain submit().
  SubmitOptions() = default;

  /**
   * \brief The job must START within `d` of its submit, or it never runs: its
   *   get() then throws qthr::Error with status() == QTHR_EXPIRED.
   *
   * An expired job costs the worker no engine time (it is dropped when reached,
   * or resolved earlier when someone waits on its future). `d` is rounded up to
   * whole nanoseconds. \throws qthr::Error(QTHR_INVALID_ARGUMENT) if `d` is not
   * positive (leave deadline() out for none).
   */
  template <class Rep, class Period>
  SubmitOptions &deadline(const std::chrono::duration<Rep, Period> &d) & {
    deadline_ns_ = detail::to_deadline_ns(d);
    return *this;
  }
  /// \copydoc deadline(const std::chrono::duration<Rep, Period> &) &
  template <class Rep, class Period>
  SubmitOptions &&deadline(const std::chrono::duration<Rep, Period> &d) && {
    return std::move(deadline(d));
  }

  /// \brief true: the job runs before every queued normal job (FIFO among urgent
  ///   jobs), and a full main queue does not hold it up.
  SubmitOptions &urgent(bool on = true) & {
    urgent_ = on;
    return *this;
  }
  /// \copydoc urgent(bool) &
  SubmitOptions &&urgent(bool on = true) && { return std::move(urgent(on)); }

  /// \brief The deadline in nanoseconds; 0 for none.
  std::int64_t deadline_ns() const noexcept { return deadline_ns_; }
  /// \brief Whether urgent() was set.
  bool is_urgent() const noexcept { return urgent_; }

private:
  std::int64_t deadline_ns_ = 0;
  bool urgent_ = false;
};

class Runtime;

/**
 * \brief The result of a job submitted with Runtime::submit; move-only.
 *
 * - get() waits, then takes the result: it returns the value or rethrows what
 *   the callable threw. get() on a future whose job was cancelled (cancel(),
 *   interrupt() while queued, or shutdown(Shutdown::cancel) while it was queued)
 *   throws qthr::Error with status() == QTHR_CANCELLED, and on one whose job
 *   missed its SubmitOptions::deadline, status() == QTHR_EXPIRED (every time).
 * - One consumer: the result is taken once. Of several get() calls on one
 *   Future, from one thread or from several at once, exactly one returns the
 *   value (or rethrows the job's exception); every other one throws
 *   qthr::Error with status() == QTHR_INVALID_ARGUMENT ("already retrieved").
 *   Never a double move, never a torn value. To hand one result to several
 *   consumers, take it once and share it (e.g. a std::shared_ptr).
 * - Dropping a Future never cancels its job; the job still runs.
 * - A Future may outlive its Runtime.
 * - get(), wait(), wait_for(), wait_until(), is_ready(), cancel(), interrupt()
 *   may be called from several threads at once on the same Future; none of them
 *   may race with moving or destroying it (then() and operator= move it; a
 *   co_await takes the result and needs the Future until the coroutine resumes).
 *
 * \tparam T the callable's result type; may be void. References are not supported.
 */
template <class T>
class Future {
  static_assert(!std::is_reference_v<T>,
                "qthr::Future<T&> is not supported: return a value, a pointer or a std::reference_wrapper");

public:
  /// \brief The result type.
  using value_type = T;

  /// \brief An empty future: valid() is false.
  Future() noexcept = default;

  /// \brief Takes over `other`'s job; `other` becomes empty.
  Future(Future &&other) noexcept
      : fut_(std::exchange(other.fut_, nullptr)), state_(std::exchange(other.state_, nullptr)) {}

  /// \brief Lets go of the current job (without cancelling it), then takes over `other`'s.
  Future &operator=(Future &&other) noexcept {
    if (this != &other) {
      reset();
      fut_ = std::exchange(other.fut_, nullptr);
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }

  /// \brief Not copyable: one Future owns its handle on the job.
  Future(const Future &) = delete;
  /// \brief Not copyable.
  Future &operator=(const Future &) = delete;

  /// \brief Lets go of the job without cancelling it: it still runs.
  ~Future() { reset(); }

  /// \brief true if this Future refers to a job (not default-constructed or moved from).
  bool valid() const noexcept { return fut_ != nullptr; }

  /**
   * \brief Waits until the job is resolved, then takes its result.
   * \return the value (moved out of the future).
   * \throws whatever the callable threw (the original exception object);
   *   qthr::Error(QTHR_CANCELLED) if the job was cancelled and never ran;
   *   qthr::Error(QTHR_EXPIRED) if it missed its deadline and never ran;
   *   qthr::Error(QTHR_INVALID_ARGUMENT) if !valid() or the result was already
   *   taken by another get() (of this thread or any other);
   *   qthr::Error(QTHR_WOULD_DEADLOCK) if a job waits for its own future.
   */
  T get() & { return take(); }

  /// \brief Same as get() (the result is always moved out).
  T get() && { return take(); }

  /// \brief Waits until the job is resolved (done, cancelled or expired). \throws qthr::Error if !valid().
  void wait() const { wait_ns(-1); }

  /**
   * \brief Waits at most `d` for the job to be resolved.
   * \return std::future_status::ready once it ran, was cancelled or expired, else
   *   std::future_status::timeout (the job is still pending). Never deferred.
   */
  template <class Rep, class Period>
  std::future_status wait_for(const std::chrono::duration<Rep, Period> &d) const {
    return wait_ns(detail::to_timeout_ns(d)) ? std::future_status::ready : std::future_status::timeout;
  }

  /// \brief Waits until `tp` (of any clock) at most; see wait_for().
  template <class Clock, class Duration>
  std::future_status wait_until(const std::chrono::time_point<Clock, Duration> &tp) const {
    for (;;) {
      auto now = Clock::now();
      if (now >= tp) return wait_ns(0) ? std::future_status::ready : std::future_status::timeout;
      // Loop: a clock other than the steady one may jump.
      if (wait_ns(detail::to_timeout_ns(tp - now))) return std::future_status::ready;
    }
  }

  /// \brief true once the job is resolved (get() would not block); false while it is pending
  ///   or if !valid(). Never blocks.
  bool is_ready() const noexcept {
    if (!fut_) return false;
    qthr_status st = qthr_wait(fut_, 0, nullptr);
    return st != QTHR_TIMEOUT;
  }

  /**
   * \brief Cancels the job if it has not started yet.
   *
   * Its callable (and everything it captured) is destroyed at once, on this thread.
   * \return true if the job will never run: cancelled by this call or before
   *   (get() then throws qthr::Error(QTHR_CANCELLED)); false if it already started
   *   or finished, or !valid().
   * \throws qthr::Error for a failure of the library (e.g. QTHR_FORKED).
   */
  bool cancel() {
    if (!fut_) return false;
    qthr_status st = qthr_cancel(fut_);
    if (st == QTHR_OK) return true;
    if (st == QTHR_NOT_CANCELLABLE || st == QTHR_CANCELLED || st == QTHR_SHUTDOWN) return false;
    throw Error(st);
  }

  /**
   * \brief (0.2) Stops the job: withdraws it if it is still queued (exactly like
   *   cancel()), or, if it is running and the Runtime has Options::on_interrupt,
   *   calls that hook on this thread to ask the engine to stop it.
   *
   * \return true if the job was withdrawn (get() throws QTHR_CANCELLED) or the hook
   *   was called (the job then ends as the engine decides, and get() returns or
   *   throws whatever it did); false if it is running and there is no on_interrupt,
   *   if it already finished or expired, or if !valid().
   * \throws what on_interrupt threw; qthr::Error for a failure of the library
   *   (e.g. QTHR_FORKED).
   */
  bool interrupt() {
    if (!fut_) return false;
    std::exception_ptr &hook_error = detail::interrupt_error();
    hook_error = nullptr;
    qthr_status st = qthr_interrupt(fut_);
    if (hook_error) std::rethrow_exception(std::exchange(hook_error, nullptr));
    if (st == QTHR_OK) return true;
    if (st == QTHR_NOT_CANCELLABLE) return false;
    throw Error(st);
  }

  /**
   * \brief Calls `f(std::move(future))` once the job is resolved; consumes this Future.
   *
   * `f` is any callable taking a `qthr::Future<T>` (by value or rvalue reference);
   * it receives this Future, resolved, and may call get() on it (which then never
   * blocks). Where it runs is where the job is resolved:
   * - on the worker, right after the job finished (keep it short: the next job waits);
   * - at once, on this thread, if the job is already resolved;
   * - on the thread whose cancel() withdrew the job, or the one running
   *   shutdown(Shutdown::cancel) (or the worker) if shutdown withdrew it.
   *
   * `f` must not throw: nothing could catch the exception where it runs, so an
   * exception escaping it calls std::terminate (as for a std::thread function).
   * One heap allocation (the callable and the Future).
   * \code
   * rt.submit(load).then([](qthr::Future<Row> f) { publish(f.get()); });
   * \endcode
   * \throws qthr::Error(QTHR_INVALID_ARGUMENT) if !valid(); a failure of the library
   *   (e.g. QTHR_FORKED): then this Future is left as it was.
   */
  template <class F>
  void then(F &&f) && {
    static_assert(std::is_invocable_v<std::decay_t<F> &, Future<T> &&>,
                  "qthr::Future<T>::then: the callable must accept a qthr::Future<T>");
    if (!fut_) throw Error(QTHR_INVALID_ARGUMENT);
    auto c = std::make_unique<detail::ThenCall<T, std::decay_t<F>>>(std::forward<F>(f));
    qthr_future *fut = fut_;
    c->future = std::move(*this);
    detail::Continuation *base = c.get();
    QTHR_CPP_HB_RELEASE(base);
    qthr_status st = qthr_future_then(fut, &qthr_cpp_detail_continuation, base);
    if (st != QTHR_OK) {
      *this = std::move(c->future);
      throw Error(st);
    }
    (void)c.release(); // owned by the continuation now (it may even be gone already)
  }

#if defined(QTHR_CPP_HAS_COROUTINES)
  /**
   * \brief C++20: `co_await f` waits for the job without blocking the thread, then
   *   evaluates to f.get() (the value, or what get() throws).
   *
   * If the job is already resolved the coroutine does not suspend. Otherwise it
   * is resumed INLINE on the thread that resolves the job: normally the worker,
   * right after the job finished (like then()); the canceller, or the thread
   * running shutdown(Shutdown::cancel), if the job is withdrawn. Code after the
   * co_await then runs on that thread until the coroutine suspends again; on the
   * worker, other jobs wait meanwhile (and rt.call() from there runs inline).
   * To resume elsewhere, use via().
   *
   * The Future must stay alive (and unmoved) until the coroutine resumes; do not
   * destroy a coroutine while it is suspended on a Future.
   */
  auto operator co_await() & noexcept;
  /// \copydoc operator co_await() &
  auto operator co_await() && noexcept;

  /**
   * \brief C++20: an awaitable that resumes the coroutine through `ex`.
   *
   * `ex` is any callable taking a `std::coroutine_handle<>`; it is called once,
   * on the thread that resolves the job (see operator co_await), and must arrange
   * for `h.resume()` to run exactly once, on the thread of its choice (post it to
   * a thread pool, an event loop, a GUI thread ...). Unlike plain `co_await f`,
   * the coroutine always goes through `ex`, also when the job is already resolved.
   * `co_await f.via(ex)` evaluates to f.get().
   * \code
   * int n = co_await rt.submit(count_rows).via([&](std::coroutine_handle<> h) { loop.post(h); });
   * \endcode
   */
  template <class Executor>
  auto via(Executor &&ex) noexcept(std::is_nothrow_constructible_v<std::decay_t<Executor>, Executor &&>);
#endif

  /// \brief The underlying C future (owned by this Future); nullptr if !valid().
  qthr_future *native_handle() const noexcept { return fut_; }

private:
  friend class Runtime;

  Future(qthr_future *fut, detail::SharedState<T> *state) noexcept : fut_(fut), state_(state) {}

  void reset() noexcept {
    if (fut_) {
      qthr_future_free(fut_);
      state_->release();
      fut_ = nullptr;
      state_ = nullptr;
    }
  }

  /// true: resolved; false: timed out.
  bool wait_ns(std::int64_t ns) const {
    if (!fut_) throw Error(QTHR_INVALID_ARGUMENT);
    qthr_status st = qthr_wait(fut_, ns, nullptr);
    if (st == QTHR_OK || st == QTHR_CANCELLED || st == QTHR_EXPIRED) return true;
    if (st == QTHR_TIMEOUT) return false;
    throw Error(st);
  }

  T take() {
    if (!fut_) throw Error(QTHR_INVALID_ARGUMENT, "qthr::Future::get: the future is empty");
    detail::check(qthr_wait(fut_, -1, nullptr));
    // The worker's run() released before the library resolved the future.
    QTHR_CPP_HB_ACQUIRE(static_cast<detail::JobBase *>(state_));
    if (state_->retrieved.exchange(true, std::memory_order_acq_rel))
      throw Error(QTHR_INVALID_ARGUMENT, "qthr::Future::get: the result was already retrieved");
    auto &out = state_->outcome;
    if (out.error) std::rethrow_exception(out.error);
    if constexpr (!std::is_void_v<T>) return std::move(*out.value);
  }

  qthr_future *fut_ = nullptr;
  detail::SharedState<T> *state_ = nullptr;
};

/**
 * \brief One worker thread that owns an engine; every thread submits jobs to it.
 *
 * Move-only. The destructor drains: every job queued so far runs, then
 * on_stop runs on the worker, then the worker is joined (qthr_free).
 * Futures may outlive their Runtime. Destroyed on its own worker (the last
 * owner let go of it inside a job), it does not wait: the worker drains, runs
 * on_stop and stops by itself.
 *
 * submit(), call(), on_worker(), stats() and shutdown() may be called from any
 * number of threads at once (the worker included, except shutdown()); moving
 * or destroying the Runtime may not race with them.
 */
class Runtime {
public:
  /// \brief A runtime with default Options. \throws qthr::Error if the worker cannot start.
  Runtime() : Runtime(Options{}) {}

  /**
   * \brief Starts the worker and runs `opts`' on_start on it before returning.
   * \throws the exception on_start threw (the original object);
   *   qthr::Error(QTHR_START_FAILED) if the thread could not start;
   *   qthr::Error(QTHR_INVALID_ARGUMENT) for a bad option (e.g. queue_capacity(0)).
   */
  explicit Runtime(const Options &opts) : state_(new detail::RuntimeState) {
    qthr_config cfg;
    qthr_config_init(&cfg);
    if (opts.thread_name_) {
      state_->thread_name = *opts.thread_name_;
      cfg.thread_name = state_->thread_name.c_str();
    }
    if (opts.queue_capacity_) cfg.queue_capacity = *opts.queue_capacity_;
    cfg.nonblocking = opts.nonblocking_ ? 1 : 0;
    cfg.cpu = opts.cpu_;
    state_->on_start = opts.on_start_;
    state_->on_stop = opts.on_stop_;
    state_->on_interrupt = opts.on_interrupt_;
    if (state_->on_start) cfg.on_start = &qthr_cpp_detail_on_start;
    if (state_->on_interrupt) cfg.on_interrupt = &qthr_cpp_detail_on_interrupt;
    cfg.on_stop = &qthr_cpp_detail_on_stop; // always: it also frees an orphaned state
    cfg.hook_ctx = state_.get();
    QTHR_CPP_HB_RELEASE(state_.get()); // the hooks, to the worker
    qthr_status st = qthr_init(&cfg, &rt_);
    QTHR_CPP_HB_ACQUIRE(state_.get()); // start_error, from the worker
    if (st != QTHR_OK) {
      rt_ = nullptr;
      if (state_->start_error) std::rethrow_exception(state_->start_error);
      throw Error(st);
    }
  }

  /// \brief Takes over `other`'s worker; `other` becomes empty (every call on it throws).
  Runtime(Runtime &&other) noexcept
      : state_(std::move(other.state_)), rt_(std::exchange(other.rt_, nullptr)) {}

  /// \brief Drains and joins the current worker (like the destructor), then takes over `other`'s.
  Runtime &operator=(Runtime &&other) noexcept {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
      rt_ = std::exchange(other.rt_, nullptr);
    }
    return *this;
  }

  /// \brief Not copyable: one Runtime owns one worker.
  Runtime(const Runtime &) = delete;
  /// \brief Not copyable.
  Runtime &operator=(const Runtime &) = delete;

  /// \brief Drains (every queued job runs), runs on_stop, joins the worker, frees it.
  ~Runtime() { close(); }

  /**
   * \brief Queues `f(args...)` to run on the worker; returns at once with its Future.
   *
   * `f` and `args` are decay-copied (or moved) into the job, like std::thread
   * does: use std::ref to pass a reference. Move-only callables and arguments
   * (capturing a std::unique_ptr, say) are fine. One heap allocation.
   * Submitted from the worker itself, the job is queued (it runs after the current one).
   *
   * \tparam R std::invoke_result_t of the decayed callable and arguments; void allowed,
   *   references not.
   * \throws qthr::Error with QTHR_SHUTDOWN (shutting down or shut down),
   *   QTHR_QUEUE_FULL (nonblocking runtime, or a submit from the worker to its own full queue).
   */
  template <class F, class... Args,
            class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, SubmitOptions>>,
            class R = std::remove_cv_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>>
  Future<R> submit(F &&f, Args &&...args) {
    return submit_impl<R>(nullptr, std::forward<F>(f), std::forward<Args>(args)...);
  }

  /**
   * \brief (0.2) Like submit(f, args...), with a deadline and/or urgency (qthr_submit_ex).
   *
   * \code
   * auto g = rt.submit(qthr::SubmitOptions{}.deadline(std::chrono::milliseconds(50)).urgent(), fn);
   * \endcode
   * A job that has not started by its deadline never runs: get() throws
   * qthr::Error with status() == QTHR_EXPIRED, and its callable is destroyed
   * where the library resolves it. An urgent job runs before every queued normal
   * job. \throws as submit(f, args...); also qthr::Error(QTHR_NO_MEMORY) if the
   *   urgent lane cannot be allocated (on its first use).
   */
  template <class F, class... Args,
            class R = std::remove_cv_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>>
  Future<R> submit(const SubmitOptions &opts, F &&f, Args &&...args) {
    qthr_submit_opts o{};
    o.size = sizeof o;
    o.deadline_ns = opts.deadline_ns();
    o.priority = opts.is_urgent() ? 1u : 0u;
    return submit_impl<R>(&o, std::forward<F>(f), std::forward<Args>(args)...);
  }

  /**
   * \brief Runs `f(args...)` on the worker and returns its result (submit + get).
   *
   * Uses qthr_call: no heap allocation; `f` and `args` are used in place (by
   * reference) since the caller blocks until the job is done. On the worker
   * itself (a job calling call()) it runs inline: re-entrancy never deadlocks.
   * \throws what `f` threw; qthr::Error(QTHR_SHUTDOWN / QTHR_QUEUE_FULL / QTHR_CANCELLED).
   */
  template <class F, class... Args>
  std::remove_cv_t<std::invoke_result_t<F &&, Args &&...>> call(F &&f, Args &&...args) {
    using Raw = std::invoke_result_t<F &&, Args &&...>;
    static_assert(!std::is_reference_v<Raw>,
                  "qthr: jobs returning a reference are not supported; return a value or a pointer");
    using R = std::remove_cv_t<Raw>;
    detail::CallFrame<R, F, Args...> frame(std::forward<F>(f), std::forward<Args>(args)...);
    detail::JobBase *base = &frame;
    QTHR_CPP_HB_RELEASE(base);
    qthr_status st = qthr_call(rt_, &qthr_cpp_detail_run_job, base, nullptr);
    QTHR_CPP_HB_ACQUIRE(base);
    detail::check(st);
    if (frame.outcome.error) std::rethrow_exception(frame.outcome.error);
    if constexpr (!std::is_void_v<R>) return std::move(*frame.outcome.value);
  }

  /// \brief true when called on this runtime's worker thread (i.e. from inside a job or hook).
  bool on_worker() const noexcept { return rt_ != nullptr && qthr_on_worker(rt_) != 0; }

  /**
   * \brief Stops the runtime: new submits throw Error(QTHR_SHUTDOWN); queued jobs
   *   run (Shutdown::drain) or are resolved as cancelled (Shutdown::cancel); a running
   *   job finishes; on_stop runs; the worker is joined. Idempotent.
   * \throws qthr::Error(QTHR_WOULD_DEADLOCK) when called on the worker itself;
   *   the exception on_stop threw, if it threw (once).
   */
  void shutdown(Shutdown mode = Shutdown::drain) {
    detail::check(qthr_shutdown(rt_, static_cast<qthr_shutdown_mode>(mode)));
    if (state_) {
      QTHR_CPP_HB_ACQUIRE(state_.get()); // stop_error, from the joined worker
      if (state_->stop_error) std::rethrow_exception(std::exchange(state_->stop_error, nullptr));
    }
  }

  /// \brief Counters of the runtime (submitted, completed, cancelled, queue length, high water,
  ///   expired).
  qthr_stats stats() const {
    qthr_stats s{};
    s.size = sizeof s;
    detail::check(qthr_get_stats(rt_, &s));
    return s;
  }

  /// \brief true unless this Runtime was moved from.
  bool valid() const noexcept { return rt_ != nullptr; }

  /// \brief The underlying C runtime (owned by this Runtime); nullptr if moved from.
  qthr_runtime *native_handle() const noexcept { return rt_; }

private:
  template <class R, class F, class... Args>
  Future<R> submit_impl(const qthr_submit_opts *opts, F &&f, Args &&...args) {
    static_assert(!std::is_reference_v<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>,
                  "qthr: jobs returning a reference are not supported; return a value or a pointer");
    using JobT = detail::Job<R, std::decay_t<F>, std::decay_t<Args>...>;
    auto *job = new JobT(std::forward<F>(f), std::forward<Args>(args)...);
    detail::JobBase *base = job;
    qthr_future *fut = nullptr;
    QTHR_CPP_HB_RELEASE(base); // the callable and its arguments, to the worker (or a canceller)
    qthr_status st = opts ? qthr_submit_ex(rt_, &qthr_cpp_detail_run_job, base, opts, &fut)
                          : qthr_submit(rt_, &qthr_cpp_detail_run_job, base, &fut);
    if (st != QTHR_OK) {
      delete job; // never queued: the callable dies here
      throw Error(st);
    }
    // The completion callback holds the second reference; it runs exactly once
    // (at once if the job already finished): after the job ran, or when it was
    // cancelled, interrupted while queued or expired. If it cannot be registered
    // (a broken runtime), that reference is leaked rather than risk a use-after-free.
    (void)qthr_future_then(fut, &qthr_cpp_detail_job_resolved, base);
    return Future<R>(fut, job);
  }

  void close() noexcept {
    if (!rt_) {
      state_.reset();
      return;
    }
    if (qthr_on_worker(rt_)) {
      // Destroyed from one of its own jobs: qthr_free returns at once and the worker
      // drains and runs on_stop later, so the hook state must outlive this object.
      state_->orphaned = true;
      (void)state_.release();
      qthr_free(std::exchange(rt_, nullptr));
      return;
    }
    qthr_free(std::exchange(rt_, nullptr));
    QTHR_CPP_HB_ACQUIRE(state_.get()); // what on_stop wrote, from the joined worker
    state_.reset();
  }

  std::unique_ptr<detail::RuntimeState> state_;
  qthr_runtime *rt_ = nullptr;
};

#if defined(QTHR_CPP_HAS_COROUTINES)
/// \cond QTHR_DETAIL
namespace detail {

/// What plain `co_await f` resumes with: the coroutine, inline, on the resolving thread.
struct ResumeInline {
  void operator()(std::coroutine_handle<> h) const { h.resume(); }
};

/// The awaiter behind `co_await f` (Executor = ResumeInline) and `co_await f.via(ex)`.
template <class T, class Executor>
class Awaiter final : Continuation {
  static constexpr bool kInline = std::is_same_v<Executor, ResumeInline>;

public:
  template <class E>
  Awaiter(Future<T> &f, E &&ex) noexcept(std::is_nothrow_constructible_v<Executor, E &&>)
      : future_(f), ex_(std::forward<E>(ex)) {}

  Awaiter(const Awaiter &) = delete;
  Awaiter &operator=(const Awaiter &) = delete;

  bool await_ready() const noexcept {
    // via(ex) always goes through the executor; an empty future fails in await_resume.
    return !future_.valid() || (kInline && future_.is_ready());
  }

  bool await_suspend(std::coroutine_handle<> h) noexcept {
    handle_ = h;
    Continuation *base = this;
    QTHR_CPP_HB_RELEASE(base);
    qthr_status st = qthr_future_then(future_.native_handle(), &qthr_cpp_detail_continuation, base);
    if (st != QTHR_OK) {
      error_ = st; // never registered: resume at once, await_resume throws
      return false;
    }
    if constexpr (kInline) {
      // Second of the two to arrive resumes: if fire() already ran (the job was
      // resolved meanwhile, maybe on this very thread inside qthr_future_then),
      // continue here instead of suspending.
      return !armed_.exchange(true, std::memory_order_acq_rel);
    } else {
      // fire() posts to the executor, which may resume (and destroy) this
      // coroutine at once: nothing here may touch *this any more.
      return true;
    }
  }

  T await_resume() {
    if (error_ != QTHR_OK) throw Error(error_);
    return future_.get();
  }

private:
  void fire() noexcept override {
    if constexpr (kInline) {
      if (!armed_.exchange(true, std::memory_order_acq_rel)) return; // await_suspend resumes
      handle_.resume();
    } else {
      // The executor may resume the coroutine before it returns, ending this awaiter:
      // take what is needed off it first. An exception escaping ex calls std::terminate.
      std::coroutine_handle<> h = handle_;
      Executor ex = std::move(ex_);
      ex(h);
    }
  }

  Future<T> &future_;
  Executor ex_;
  std::coroutine_handle<> handle_;
  std::atomic<bool> armed_{false};
  qthr_status error_ = QTHR_OK;
};

} // namespace detail
/// \endcond

template <class T>
auto Future<T>::operator co_await() & noexcept {
  return detail::Awaiter<T, detail::ResumeInline>(*this, detail::ResumeInline{});
}

template <class T>
auto Future<T>::operator co_await() && noexcept {
  return detail::Awaiter<T, detail::ResumeInline>(*this, detail::ResumeInline{});
}

template <class T>
template <class Executor>
auto Future<T>::via(Executor &&ex) noexcept(std::is_nothrow_constructible_v<std::decay_t<Executor>, Executor &&>) {
  static_assert(std::is_invocable_v<std::decay_t<Executor> &, std::coroutine_handle<>>,
                "qthr::Future<T>::via: the executor must be callable with a std::coroutine_handle<>");
  return detail::Awaiter<T, std::decay_t<Executor>>(*this, std::forward<Executor>(ex));
}
#endif // QTHR_CPP_HAS_COROUTINES

} // namespace qthr

/// \cond QTHR_DETAIL
extern "C" {
inline void *qthr_cpp_detail_run_job(void *job) {
  auto *base = static_cast<qthr::detail::JobBase *>(job);
  QTHR_CPP_HB_ACQUIRE(base); // from submit() / call()
  base->run();
  QTHR_CPP_HB_RELEASE(base); // to get() / call(), and to the completion callback
  return nullptr;
}

inline void qthr_cpp_detail_job_resolved(void *job, qthr_status st, void *) {
  auto *base = static_cast<qthr::detail::JobBase *>(job);
  QTHR_CPP_HB_ACQUIRE(base); // from submit() (a job cancelled unrun) or from run()
  base->resolved(st);
}

inline void qthr_cpp_detail_continuation(void *ctx, qthr_status, void *) {
  auto *c = static_cast<qthr::detail::Continuation *>(ctx);
  QTHR_CPP_HB_ACQUIRE(c); // from then() / await_suspend()
  c->fire();
}

inline int qthr_cpp_detail_on_start(void *hook_ctx) {
  auto *state = static_cast<qthr::detail::RuntimeState *>(hook_ctx);
  QTHR_CPP_HB_ACQUIRE(state);
  int rc = 0;
  try {
    state->on_start->invoke();
  } catch (...) {
    state->start_error = std::current_exception();
    rc = 1;
  }
  QTHR_CPP_HB_RELEASE(state);
  return rc;
}

inline void qthr_cpp_detail_on_stop(void *hook_ctx) {
  auto *state = static_cast<qthr::detail::RuntimeState *>(hook_ctx);
  QTHR_CPP_HB_ACQUIRE(state);
  try {
    if (state->on_stop) state->on_stop->invoke();
  } catch (...) {
    state->stop_error = std::current_exception();
  }
  if (state->orphaned) {
    delete state; // nobody is left to report stop_error to
    return;
  }
  QTHR_CPP_HB_RELEASE(state);
}

inline void qthr_cpp_detail_on_interrupt(void *hook_ctx) {
  // On the interrupting thread, inside qthr_interrupt: Future::interrupt() rethrows.
  auto *state = static_cast<qthr::detail::RuntimeState *>(hook_ctx);
  QTHR_CPP_HB_ACQUIRE(state);
  try {
    state->on_interrupt->invoke();
  } catch (...) {
    qthr::detail::interrupt_error() = std::current_exception();
  }
}
}
/// \endcond

#endif // QTHR_HPP
