/**
 * \file qthr/detail/job.hpp
 * \brief Part of qthr.hpp: what the worker runs and what the library calls back.
 *
 * A job (submit's Job, call's CallFrame) and the outcome it leaves for get(); the
 * continuation registered with qthr_future_then (Future::then, co_await). Each is
 * reached from the C library through one non-template trampoline
 * (qthr/detail/trampolines.hpp) that calls one of their virtual members.
 */
#ifndef QTHR_CPP_DETAIL_JOB_HPP
#define QTHR_CPP_DETAIL_JOB_HPP

#include "config.hpp"

#include <atomic>
#include <exception>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

/// \cond QTHR_DETAIL
namespace qthr::detail {

/// What Runtime::submit(f, args...) returns a Future of: the result of the decayed
/// callable on the decayed arguments, as the job calls it.
template <class F, class... Args>
using submit_result_t = std::remove_cv_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;

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
  struct Nothing {};
  std::optional<std::conditional_t<std::is_void_v<T>, Nothing, T>> value; // empty for void
  std::exception_ptr error;

  template <class F>
  void produce(F &&f) noexcept {
    try {
      if constexpr (std::is_void_v<T>)
        std::forward<F>(f)();
      else
        value.emplace(std::forward<F>(f)());
    } catch (...) {
      error = std::current_exception();
    }
  }

  /// Rethrows what the job threw, or moves its value out.
  T take() {
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*value);
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

} // namespace qthr::detail
/// \endcond

#endif // QTHR_CPP_DETAIL_JOB_HPP
