/**
 * \file qthr/detail/tsan.hpp
 * \brief Part of qthr.hpp: ThreadSanitizer support (happens-before annotations and
 *   the program's default suppressions), active only under -fsanitize=thread.
 *
 * The library synchronises with atomics TSan does not see (it is not instrumented),
 * so every hand-off between threads that goes through it is announced with
 * QTHR_CPP_HB_RELEASE on the sending side and QTHR_CPP_HB_ACQUIRE on the receiving
 * side. QTHR_CPP_NO_TSAN_ANNOTATIONS leaves the annotations out;
 * QTHR_CPP_NO_TSAN_SUPPRESSIONS leaves out the program's __tsan_default_suppressions.
 */
#ifndef QTHR_CPP_DETAIL_TSAN_HPP
#define QTHR_CPP_DETAIL_TSAN_HPP

#include "config.hpp"

/// \cond QTHR_DETAIL
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
/// \endcond

#endif // QTHR_CPP_DETAIL_TSAN_HPP
