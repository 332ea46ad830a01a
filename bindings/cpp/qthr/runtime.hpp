/**
 * \file qthr/runtime.hpp
 * \brief Part of qthr.hpp: qthr::Runtime, the worker thread that owns an engine
 *   (submit, call, shutdown), and qthr::Shutdown.
 */
#ifndef QTHR_CPP_RUNTIME_HPP
#define QTHR_CPP_RUNTIME_HPP

#include "detail/config.hpp"
#include "detail/hooks.hpp"
#include "detail/job.hpp"
#include "detail/trampolines.hpp"
#include "detail/tsan.hpp"
#include "error.hpp"
#include "future.hpp"
#include "options.hpp"

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace qthr {

/// \brief How Runtime::shutdown treats jobs that are still queued.
enum class Shutdown {
  drain = QTHR_DRAIN,  ///< run every queued job, then stop (what the destructor does)
  cancel = QTHR_CANCEL ///< resolve every queued job as cancelled; a running job still finishes
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
            class R = detail::submit_result_t<F, Args...>>
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
            class R = detail::submit_result_t<F, Args...>>
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
    return frame.outcome.take();
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

} // namespace qthr

#endif // QTHR_CPP_RUNTIME_HPP
