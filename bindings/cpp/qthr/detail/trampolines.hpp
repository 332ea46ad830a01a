/**
 * \file qthr/detail/trampolines.hpp
 * \brief Part of qthr.hpp: the extern "C" functions handed to the C library (a job's
 *   qthr_fn, the completion callbacks, the runtime's hooks).
 *
 * They have C language linkage (the C ABI takes plain C function pointers); being
 * inline, they may be defined in every translation unit that includes qthr.hpp;
 * hidden, so that no shared object exports them (two shared objects built against
 * different versions of the header never share one). Each one dispatches to a
 * virtual member, so one non-template trampoline serves every job type. No C++
 * exception leaves them: jobs and hooks run inside `try { ... } catch (...)`.
 */
#ifndef QTHR_CPP_DETAIL_TRAMPOLINES_HPP
#define QTHR_CPP_DETAIL_TRAMPOLINES_HPP

#include "config.hpp"
#include "hooks.hpp"
#include "job.hpp"
#include "tsan.hpp"

#include <exception>

/// \cond QTHR_DETAIL
extern "C" {
QTHR_CPP_HIDDEN inline void *qthr_cpp_detail_run_job(void *job);
QTHR_CPP_HIDDEN inline void qthr_cpp_detail_job_resolved(void *job, qthr_status st, void *result);
QTHR_CPP_HIDDEN inline void qthr_cpp_detail_continuation(void *ctx, qthr_status st, void *result);
QTHR_CPP_HIDDEN inline int qthr_cpp_detail_on_start(void *hook_ctx);
QTHR_CPP_HIDDEN inline void qthr_cpp_detail_on_stop(void *hook_ctx);
QTHR_CPP_HIDDEN inline void qthr_cpp_detail_on_interrupt(void *hook_ctx);

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
} // extern "C"

namespace qthr::detail {

/// Registers `c` with qthr_future_then: its fire() runs once `fut` is resolved (at
/// once, on this thread, if it already is). What `c` holds is announced to TSan first.
inline qthr_status register_continuation(qthr_future *fut, Continuation *c) noexcept {
  QTHR_CPP_HB_RELEASE(c);
  return qthr_future_then(fut, &qthr_cpp_detail_continuation, c);
}

} // namespace qthr::detail
/// \endcond

#endif // QTHR_CPP_DETAIL_TRAMPOLINES_HPP
