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
 * Requirements: C++17 or later (a clear \#error otherwise), exceptions enabled
 * (failures are reported as qthr::Error, and a job's exception is carried back
 * to get(); with -fno-exceptions the header stops with an \#error: use the C API
 * of qthr.h, whose functions return a qthr_status, instead).
 *
 * Failures of the library itself (queue full, shut down, ...) throw qthr::Error.
 *
 * This is the one header to include. It includes its parts, each named for what
 * it holds and installed next to it under qthr/:
 * - qthr/error.hpp: qthr::Error;
 * - qthr/options.hpp: qthr::Options, qthr::SubmitOptions;
 * - qthr/future.hpp: qthr::Future;
 * - qthr/runtime.hpp: qthr::Runtime, qthr::Shutdown;
 * - qthr/coro.hpp: `co_await` on a qthr::Future (C++20);
 * - qthr/detail/: the language checks (config.hpp), the ThreadSanitizer support
 *   (tsan.hpp), durations to nanoseconds (duration.hpp), the hooks' state
 *   (hooks.hpp), jobs and continuations (job.hpp) and the extern "C" trampolines
 *   handed to the library (trampolines.hpp): not an API.
 */
#ifndef QTHR_HPP
#define QTHR_HPP

#include "qthr/detail/config.hpp"

#include "qthr/error.hpp"
#include "qthr/options.hpp"
#include "qthr/future.hpp"
#include "qthr/runtime.hpp"
#include "qthr/coro.hpp"

#include <cstdint>

/// \brief Everything of the C++ binding lives in this namespace.
namespace qthr {

/// \brief qthr_version() of the loaded library: major<<16 | minor<<8 | patch.
inline std::uint32_t version() noexcept { return qthr_version(); }

} // namespace qthr

#endif // QTHR_HPP
