/**
 * \file qthr/detail/hooks.hpp
 * \brief Part of qthr.hpp: the runtime's hooks (on_start, on_stop, on_interrupt) as
 *   the worker and the interrupting thread reach them.
 */
#ifndef QTHR_CPP_DETAIL_HOOKS_HPP
#define QTHR_CPP_DETAIL_HOOKS_HPP

#include "config.hpp"

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

/// \cond QTHR_DETAIL
namespace qthr::detail {

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

/// What on_interrupt threw, on the interrupting thread (the hook runs inside
/// qthr_interrupt, on the thread of Future::interrupt, which rethrows it).
inline std::exception_ptr &interrupt_error() noexcept {
  static thread_local std::exception_ptr e;
  return e;
}

} // namespace qthr::detail
/// \endcond

#endif // QTHR_CPP_DETAIL_HOOKS_HPP
