/**
 * \file qthr/future.hpp
 * \brief Part of qthr.hpp: qthr::Future, the result of a submitted job (get, wait,
 *   cancel, interrupt, then).
 *
 * Its C++20 `co_await` and via() are defined in qthr/coro.hpp.
 */
#ifndef QTHR_CPP_FUTURE_HPP
#define QTHR_CPP_FUTURE_HPP

#include "detail/config.hpp"
#include "detail/duration.hpp"
#include "detail/hooks.hpp"
#include "detail/job.hpp"
#include "detail/trampolines.hpp"
#include "detail/tsan.hpp"
#include "error.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>

namespace qthr {

template <class T>
class Future;

class Runtime;

/// \cond QTHR_DETAIL
namespace detail {

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

} // namespace detail
/// \endcond

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
    qthr_status st = detail::register_continuation(fut, c.get());
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
  /// \brief The same for a temporary Future: `co_await rt.submit(f)` (the temporary lives
  ///   until the coroutine resumes).
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
    return state_->outcome.take();
  }

  qthr_future *fut_ = nullptr;
  detail::SharedState<T> *state_ = nullptr;
};

} // namespace qthr

#endif // QTHR_CPP_FUTURE_HPP
