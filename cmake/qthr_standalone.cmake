# Included by subprojects (tests/cpp, examples/cpp) that may be configured on their own,
# without the top-level CMakeLists.txt: defines qthr::qthr from the cargo release build of
# this tree (or -DQTHR_LIBRARY=... -DQTHR_INCLUDE_DIR=...). QTHR_CPP_ROOT is the repository
# root. A no-op when the top level already defines the target.
if(NOT TARGET qthr::qthr)
  find_library(QTHR_LIBRARY NAMES qthr HINTS "${QTHR_CPP_ROOT}/target/release" NO_DEFAULT_PATH)
  find_path(QTHR_INCLUDE_DIR qthr.h HINTS "${QTHR_CPP_ROOT}/include" NO_DEFAULT_PATH)
  if(NOT QTHR_LIBRARY OR NOT QTHR_INCLUDE_DIR)
    message(FATAL_ERROR "qthr::qthr not defined: run `cargo build --release` in ${QTHR_CPP_ROOT} "
                        "or pass -DQTHR_LIBRARY=... -DQTHR_INCLUDE_DIR=...")
  endif()
  add_library(qthr::qthr UNKNOWN IMPORTED)
  set_target_properties(qthr::qthr PROPERTIES IMPORTED_LOCATION "${QTHR_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${QTHR_INCLUDE_DIR}")
endif()
