/**
 * \file qthr/options.hpp
 * \brief Part of qthr.hpp: qthr::Options (how a Runtime is configured) and
 *   qthr::SubmitOptions (a job's deadline and urgency).
 */
#ifndef QTHR_CPP_OPTIONS_HPP
#define QTHR_CPP_OPTIONS_HPP

#include "detail/config.hpp"
#include "detail/duration.hpp"
#include "detail/hooks.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace qthr {

class Runtime;

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
  /// \copydoc thread_name(std::string)&
  Options &&thread_name(std::string name) && { return std::move(thread_name(std::move(name))); }

  /// \brief How many jobs may wait in the queue (default 4096).
  Options &queue_capacity(std::size_t n) & {
    queue_capacity_ = n;
    return *this;
  }
  /// \copydoc queue_capacity(std::size_t)&
  Options &&queue_capacity(std::size_t n) && { return std::move(queue_capacity(n)); }

  /// \brief true: submit on a full queue throws Error(QTHR_QUEUE_FULL) instead of waiting for room.
  Options &nonblocking(bool on = true) & {
    nonblocking_ = on;
    return *this;
  }
  /// \copydoc nonblocking(bool)&
  Options &&nonblocking(bool on = true) && { return std::move(nonblocking(on)); }

  /// \brief Pin the worker to this CPU; -1 (the default) does not pin.
  Options &cpu(int cpu) & {
    cpu_ = cpu;
    return *this;
  }
  /// \copydoc cpu(int)&
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
  /// \copydoc on_start(F&&)&
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
  /// \copydoc on_stop(F&&)&
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
  /// \copydoc on_interrupt(F&&)&
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
  /// \copydoc deadline(const std::chrono::duration<Rep, Period> &)&
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
  /// \copydoc urgent(bool)&
  SubmitOptions &&urgent(bool on = true) && { return std::move(urgent(on)); }

  /// \brief The deadline in nanoseconds; 0 for none.
  std::int64_t deadline_ns() const noexcept { return deadline_ns_; }
  /// \brief Whether urgent() was set.
  bool is_urgent() const noexcept { return urgent_; }

private:
  std::int64_t deadline_ns_ = 0;
  bool urgent_ = false;
};

} // namespace qthr

#endif // QTHR_CPP_OPTIONS_HPP
