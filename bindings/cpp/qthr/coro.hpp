/**
 * \file qthr/coro.hpp
 * \brief Part of qthr.hpp: C++20 coroutine support, `co_await future` and
 *   `co_await future.via(executor)` (the awaiter behind Future::operator co_await
 *   and Future::via). Empty unless QTHR_CPP_HAS_COROUTINES is defined.
 */
#ifndef QTHR_CPP_CORO_HPP
#define QTHR_CPP_CORO_HPP

#include "detail/config.hpp"
#include "detail/job.hpp"
#include "detail/trampolines.hpp"
#include "error.hpp"
#include "future.hpp"

#include <atomic>
#include <type_traits>
#include <utility>

#if defined(QTHR_CPP_HAS_COROUTINES)
namespace qthr {

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
    qthr_status st = register_continuation(future_.native_handle(), this);
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

} // namespace qthr

#endif // QTHR_CPP_HAS_COROUTINES

#endif // QTHR_CPP_CORO_HPP
