// A fire-and-forget C++20 coroutine type for the tests of co_await on a qthr::Future
// (test_coroutines.cpp, compile_check.cpp): it starts at once and frees its frame when
// it ends; an exception escaping the coroutine terminates.
#ifndef QTHR_CPP_TEST_DETACHED_HPP
#define QTHR_CPP_TEST_DETACHED_HPP

#include <qthr.hpp>

#if defined(QTHR_CPP_HAS_COROUTINES)
#include <coroutine>
#include <exception>

namespace qthr_test {

struct Detached {
  struct promise_type {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

} // namespace qthr_test
#endif // QTHR_CPP_HAS_COROUTINES

#endif // QTHR_CPP_TEST_DETACHED_HPP
