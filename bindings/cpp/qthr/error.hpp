/**
 * \file qthr/error.hpp
 * \brief Part of qthr.hpp: qthr::Error, how the binding reports a failure of the library.
 */
#ifndef QTHR_CPP_ERROR_HPP
#define QTHR_CPP_ERROR_HPP

#include "detail/config.hpp"

#include <stdexcept>

namespace qthr {

/**
 * \brief A failure of the qthr library itself (not of a job).
 *
 * what() is qthr_status_str(status()), or a more precise message for the
 * binding's own checks. Exceptions thrown by jobs and hooks are not wrapped:
 * they come back as they were thrown.
 */
class Error : public std::runtime_error {
public:
  /// \brief An error for status `st`; the message is qthr_status_str(st).
  explicit Error(qthr_status st) : std::runtime_error(qthr_status_str(st)), status_(st) {}

  /// \brief An error for status `st` with its own message.
  Error(qthr_status st, const char *what) : std::runtime_error(what), status_(st) {}

  /// \brief The qthr_status that caused the error (e.g. QTHR_CANCELLED, QTHR_SHUTDOWN).
  qthr_status status() const noexcept { return status_; }

private:
  qthr_status status_;
};

/// \cond QTHR_DETAIL
namespace detail {

/// Throws qthr::Error(st) unless st is QTHR_OK.
inline void check(qthr_status st) {
  if (st != QTHR_OK) throw Error(st);
}

} // namespace detail
/// \endcond

} // namespace qthr

#endif // QTHR_CPP_ERROR_HPP
