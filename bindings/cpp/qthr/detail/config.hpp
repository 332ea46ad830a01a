/**
 * \file qthr/detail/config.hpp
 * \brief Part of qthr.hpp: what the binding needs from the language and the compiler.
 *
 * Stops with a clear \#error before C++17, without exceptions and in C; includes
 * <qthr.h>; detects C++20 coroutines (QTHR_CPP_HAS_COROUTINES) and how to give the
 * trampolines hidden visibility. Every other part of qthr.hpp includes it first.
 */
#ifndef QTHR_CPP_DETAIL_CONFIG_HPP
#define QTHR_CPP_DETAIL_CONFIG_HPP

#ifndef __cplusplus
#error "qthr.hpp is the C++ binding; C programs include <qthr.h>"
#endif

/// \cond QTHR_DETAIL
#if defined(_MSVC_LANG) && _MSVC_LANG > __cplusplus
#define QTHR_CPP_STD _MSVC_LANG
#else
#define QTHR_CPP_STD __cplusplus
#endif
/// \endcond
#if QTHR_CPP_STD < 201703L
#error "qthr.hpp needs C++17 or later (e.g. -std=c++17); from C++11/14 code use the C API in <qthr.h>"
#endif

#if !defined(__cpp_exceptions) && !defined(__EXCEPTIONS) && !defined(_CPPUNWIND)
#error "qthr.hpp needs C++ exceptions (it throws qthr::Error and rethrows a job's exception from get()); with -fno-exceptions use the C API in <qthr.h>, whose functions return a qthr_status"
#endif

#include <qthr.h>

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
/// \endcond

#endif // QTHR_CPP_DETAIL_CONFIG_HPP
