/**
 * \file qthr/detail/duration.hpp
 * \brief Part of qthr.hpp: std::chrono durations to the nanoseconds of the C API
 *   (qthr_wait's timeout, qthr_submit_opts's deadline).
 */
#ifndef QTHR_CPP_DETAIL_DURATION_HPP
#define QTHR_CPP_DETAIL_DURATION_HPP

#include "../error.hpp"
#include "config.hpp"

#include <chrono>
#include <cstdint>

/// \cond QTHR_DETAIL
namespace qthr::detail {

/// Whole nanoseconds of a positive duration, rounded up (never less than `d`, at
/// least 1), or `huge` when that is `limit` or more. The comparison is made in
/// floating point, so that huge durations (hours::max()) cannot overflow.
template <class Rep, class Period>
std::int64_t ceil_ns(const std::chrono::duration<Rep, Period> &d, double limit, std::int64_t huge) {
  using namespace std::chrono;
  if (duration<double, std::nano>(d).count() >= limit) return huge;
  auto ns = duration_cast<nanoseconds>(d);
  if (ns < d) ++ns; // round up: never time out (or expire) before the requested duration
  return ns.count() > 0 ? static_cast<std::int64_t>(ns.count()) : 1;
}

/// Nanoseconds for qthr_wait: <=0 polls, too long to represent waits forever (-1).
template <class Rep, class Period>
std::int64_t to_timeout_ns(const std::chrono::duration<Rep, Period> &d) {
  if (d <= d.zero()) return 0;
  return ceil_ns(d, 9.0e18, -1);
}

/// Nanoseconds of a deadline for qthr_submit_opts (> 0; saturates at INT64_MAX).
template <class Rep, class Period>
std::int64_t to_deadline_ns(const std::chrono::duration<Rep, Period> &d) {
  if (d <= d.zero()) throw Error(QTHR_INVALID_ARGUMENT, "qthr::SubmitOptions::deadline: must be positive");
  return ceil_ns(d, 9.2e18, INT64_MAX);
}

} // namespace qthr::detail
/// \endcond

#endif // QTHR_CPP_DETAIL_DURATION_HPP
