# How a C test program becomes ctest tests: included by tests/c and tests/reliability.
#
#   qthr_add_c_test(<name> [options])            in tests/c: test_<name>.c -> test_<name>,
#                                                 ctest c.<name> (label c)
#   qthr_add_reliability_test(<name> [options])  in tests/reliability: <name>.c -> rel_<name>,
#                                                 ctest reliability.<name> (label reliability)
# Options:
#   SOURCE <file>...          sources (default as above; may point into another suite's dir)
#   TIMEOUT <s>               ctest timeout of the plain run (default 60); the program's own
#                             tu_watchdog() should fire first
#   ARGS <arg>...             program arguments (test_* programs: the cases to run)
#   ENV <VAR=value>...        environment of every run
#   VALGRIND_ENV <VAR=value>... SANITIZER_ENV <VAR=value>...
#                             environment of the valgrind / sanitizer runs only (after ENV,
#                             so it overrides it: e.g. fewer iterations there)
#   STATIC                    link libqthr.a instead of libqthr.so
#   COMPILE_OPTIONS <opt>...  extra compiler options
#   VALGRIND_OPTIONS <opt>... extra valgrind options (e.g. --leak-check=no)
#   NO_VALGRIND               no valgrind.<suite>.<name> run
#   SANITIZE | NO_SANITIZE    whether a sanitizer build (QTHR_SANITIZER) also builds and runs
#                             it as <tsan|asan>.<suite>.<name>; default: reliability yes, c no
#   SANITIZERS <thread|address>...  only under these sanitizers (implies SANITIZE)
#   KNOWN                     an open issue: label "known" instead of the suite's, no
#                             valgrind or sanitizer runs; scripts/reliability.sh's `known`
#                             step reports it as XFAIL/XPASS and never fails on it
#
# Every plain test also gets a run under valgrind memcheck (label valgrind; zero errors and
# zero leaks; with the suppressions installed for users, share/qthr/valgrind.supp, so the
# tests check they suffice), with QTHR_WATCHDOG_SCALE=20 and QTHR_NO_CPU_CHECK=1
# (and QTHR_STRESS_SCALE=0.02 in tests/reliability).
#
# Sanitizer builds: configure a separate build directory with -DQTHR_SANITIZER=thread (or
# address). It builds libqthr with nightly Rust (-Zsanitizer=<san> -Zbuild-std, in
# target/<t|a>san, the directory scripts/reliability.sh's Rust sanitizer runs use) and links
# the SANITIZE programs to it: compiled with -fsanitize=<san>; for TSan linked with the TSan
# runtime that ships with rustc (gcc's libtsan predates what rustc's LLVM emits), for ASan
# with -fsanitize=address. They run with QTHR_STRESS_SCALE=0.5, QTHR_WATCHDOG_SCALE=10 and
# QTHR_NO_CPU_CHECK=1 (labels tsan / asan).
#
# Included by every test directory (its variables are per directory); defines each target
# once.

set(QTHR_TEST_COMMON_DIR "${CMAKE_CURRENT_LIST_DIR}")
set(QTHR_SANITIZER "" CACHE STRING
    "Also build the reliability C programs with -fsanitize=<thread|address> against a libqthr built the same way (nightly Rust); for a separate build directory")
set_property(CACHE QTHR_SANITIZER PROPERTY STRINGS "" thread address)
set(QTHR_TEST_WARNINGS -Wall -Wextra -Werror)

# ---- valgrind -------------------------------------------------------------------------
# --fair-sched=yes: valgrind runs one thread at a time, and its default lock hand-over lets
# a thread that spins and yields (qthr's waiters do, briefly, before parking) take the lock
# again and again: tests then crawl for tens of seconds. With a fair (ticket) lock they run
# in 1-2 s.
find_program(QTHR_VALGRIND valgrind)
set(QTHR_VALGRIND_COMMAND "${QTHR_VALGRIND}" -q --fair-sched=yes --error-exitcode=99
    --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible
    "--suppressions=${PROJECT_SOURCE_DIR}/share/qthr/valgrind.supp")

# A test that fails with a message (for a tool this machine lacks).
function(_qthr_missing_tool_test name label msg)
  get_property(done GLOBAL PROPERTY _qthr_missing_${name})
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY _qthr_missing_${name} TRUE)
  add_test(NAME ${name} COMMAND "${CMAKE_COMMAND}" "-DMSG=${msg}" -P "${QTHR_TEST_COMMON_DIR}/fail.cmake")
  set_tests_properties(${name} PROPERTIES LABELS "${label}")
endfunction()

# ---- the sanitizer build of libqthr ---------------------------------------------------
if(QTHR_SANITIZER)
  if(NOT QTHR_SANITIZER MATCHES "^(thread|address)$")
    message(FATAL_ERROR "QTHR_SANITIZER must be thread or address, not '${QTHR_SANITIZER}'")
  endif()
  set(_qthr_hint "bash .ci/install-deps.sh installs it (rustup toolchain install nightly --profile minimal --component rust-src)")
  find_program(QTHR_RUSTUP rustup HINTS "$ENV{HOME}/.cargo/bin")
  if(NOT QTHR_RUSTUP)
    message(FATAL_ERROR "QTHR_SANITIZER needs rustup and a nightly toolchain: ${_qthr_hint}")
  endif()
  execute_process(COMMAND "${QTHR_RUSTUP}" run nightly rustc --print sysroot
    OUTPUT_VARIABLE QTHR_NIGHTLY_SYSROOT OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc ERROR_QUIET)
  execute_process(COMMAND "${QTHR_RUSTUP}" run nightly rustc -vV
    OUTPUT_VARIABLE _vv RESULT_VARIABLE _rc2 ERROR_QUIET)
  if(NOT _rc EQUAL 0 OR NOT _rc2 EQUAL 0 OR NOT _vv MATCHES "host: ([^\n]+)")
    message(FATAL_ERROR "QTHR_SANITIZER needs the nightly Rust toolchain: ${_qthr_hint}")
  endif()
  set(QTHR_RUST_TRIPLE "${CMAKE_MATCH_1}")
  if(NOT EXISTS "${QTHR_NIGHTLY_SYSROOT}/lib/rustlib/src/rust/library")
    message(FATAL_ERROR "QTHR_SANITIZER needs nightly's rust-src component (-Zbuild-std): ${_qthr_hint}")
  endif()
  string(SUBSTRING "${QTHR_SANITIZER}" 0 1 _s)
  set(QTHR_SAN_SHORT "${_s}san") # tsan / asan
  set(QTHR_SAN_TARGET_DIR "${PROJECT_SOURCE_DIR}/target/${QTHR_SAN_SHORT}" CACHE PATH
      "cargo target directory of the sanitizer build of libqthr")
  # The same flags as scripts/reliability.sh's Rust sanitizer runs, so both share one build.
  set(QTHR_SAN_RUSTFLAGS "-Zsanitizer=${QTHR_SANITIZER} --cfg qthr_sanitize -Cdebuginfo=1")
  set(QTHR_SAN_LIB "${QTHR_SAN_TARGET_DIR}/${QTHR_RUST_TRIPLE}/release/libqthr.a")
  if(NOT TARGET qthr_cargo_${QTHR_SAN_SHORT})
    add_custom_target(qthr_cargo_${QTHR_SAN_SHORT} ALL
      COMMAND "${CMAKE_COMMAND}" -E env "RUSTFLAGS=${QTHR_SAN_RUSTFLAGS}"
              "CARGO_TARGET_DIR=${QTHR_SAN_TARGET_DIR}"
              "${QTHR_RUSTUP}" run nightly cargo build -Zbuild-std --target ${QTHR_RUST_TRIPLE}
              --release --lib
      WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
      BYPRODUCTS "${QTHR_SAN_LIB}"
      COMMENT "cargo +nightly build -Zbuild-std (libqthr, -Zsanitizer=${QTHR_SANITIZER})"
      USES_TERMINAL
      VERBATIM)
    add_library(qthr_${QTHR_SAN_SHORT} STATIC IMPORTED GLOBAL)
    set_target_properties(qthr_${QTHR_SAN_SHORT} PROPERTIES
      IMPORTED_LOCATION "${QTHR_SAN_LIB}"
      INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include")
    add_dependencies(qthr_${QTHR_SAN_SHORT} qthr_cargo_${QTHR_SAN_SHORT})
  endif()
  if(QTHR_SANITIZER STREQUAL "thread")
    set(QTHR_SAN_RT "${QTHR_NIGHTLY_SYSROOT}/lib/rustlib/${QTHR_RUST_TRIPLE}/lib/librustc-nightly_rt.tsan.a")
    if(NOT EXISTS "${QTHR_SAN_RT}")
      message(FATAL_ERROR "the TSan runtime of nightly rustc is not at ${QTHR_SAN_RT}")
    endif()
    set(QTHR_SAN_LINK "-Wl,--whole-archive" "${QTHR_SAN_RT}" "-Wl,--no-whole-archive")
    set(QTHR_SAN_ENV "TSAN_OPTIONS=halt_on_error=1:die_after_fork=0:second_deadlock_stack=1")
  else()
    set(QTHR_SAN_LINK -fsanitize=address)
    set(QTHR_SAN_ENV "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1")
  endif()
endif()

# ---- one test program -----------------------------------------------------------------
function(_qthr_add_test suite exe default_src default_sanitize name)
  cmake_parse_arguments(PARSE_ARGV 5 T "STATIC;NO_VALGRIND;SANITIZE;NO_SANITIZE;KNOWN"
                        "TIMEOUT" "SOURCE;ARGS;ENV;VALGRIND_ENV;SANITIZER_ENV;SANITIZERS;COMPILE_OPTIONS;VALGRIND_OPTIONS")
  if(T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "qthr test ${name}: unknown arguments ${T_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT T_SOURCE)
    set(T_SOURCE "${default_src}")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  set(sanitize ${default_sanitize})
  if(T_SANITIZE)
    set(sanitize ON)
  elseif(T_NO_SANITIZE OR T_KNOWN)
    set(sanitize OFF)
  elseif(T_SANITIZERS)
    set(sanitize OFF)
    if(QTHR_SANITIZER IN_LIST T_SANITIZERS)
      set(sanitize ON)
    endif()
  endif()
  set(label ${suite})
  if(T_KNOWN)
    set(label known)
    set(T_NO_VALGRIND ON)
  endif()

  # The plain program (against the release build of libqthr).
  add_executable(${exe} ${T_SOURCE})
  if(T_STATIC)
    target_link_libraries(${exe} PRIVATE qthr::qthr_static Threads::Threads)
  else()
    target_link_libraries(${exe} PRIVATE qthr::qthr Threads::Threads)
  endif()
  _qthr_test_flags(${exe})
  add_test(NAME ${suite}.${name} COMMAND ${exe} ${T_ARGS})
  set_tests_properties(${suite}.${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${label}")
  if(T_ENV)
    set_tests_properties(${suite}.${name} PROPERTIES ENVIRONMENT "${T_ENV}")
  endif()

  if(NOT T_NO_VALGRIND)
    if(QTHR_VALGRIND)
      math(EXPR vg_timeout "${T_TIMEOUT} * 10")
      add_test(NAME valgrind.${suite}.${name}
        COMMAND ${QTHR_VALGRIND_COMMAND} ${T_VALGRIND_OPTIONS} $<TARGET_FILE:${exe}> ${T_ARGS})
      set(env QTHR_WATCHDOG_SCALE=20 QTHR_NO_CPU_CHECK=1 ${QTHR_VALGRIND_ENV} ${T_ENV}
              ${T_VALGRIND_ENV})
      set_tests_properties(valgrind.${suite}.${name} PROPERTIES TIMEOUT ${vg_timeout}
        LABELS valgrind ENVIRONMENT "${env}")
    else()
      _qthr_missing_tool_test(valgrind.missing valgrind
        "valgrind is not installed: bash .ci/install-deps.sh installs it (apt-get install -y valgrind)")
    endif()
  endif()

  if(QTHR_SANITIZER AND sanitize)
    set(sexe ${exe}_${QTHR_SAN_SHORT})
    add_executable(${sexe} ${T_SOURCE})
    _qthr_test_flags(${sexe})
    target_compile_options(${sexe} PRIVATE -fsanitize=${QTHR_SANITIZER} -O1 -g -fno-omit-frame-pointer)
    # The Rust staticlib carries std (instrumented); what it needs besides is what any Rust
    # staticlib needs (QTHR_STATIC_NATIVE_LIBS, from the top-level CMakeLists.txt).
    target_link_libraries(${sexe} PRIVATE qthr_${QTHR_SAN_SHORT} ${QTHR_SAN_LINK}
                          ${QTHR_STATIC_NATIVE_LIBS} Threads::Threads)
    math(EXPR san_timeout "${T_TIMEOUT} * 5")
    add_test(NAME ${QTHR_SAN_SHORT}.${suite}.${name} COMMAND ${sexe} ${T_ARGS})
    set(env ${QTHR_SAN_ENV} QTHR_STRESS_SCALE=0.5 QTHR_WATCHDOG_SCALE=10 QTHR_NO_CPU_CHECK=1 ${T_ENV}
            ${T_SANITIZER_ENV})
    set_tests_properties(${QTHR_SAN_SHORT}.${suite}.${name} PROPERTIES TIMEOUT ${san_timeout}
      LABELS ${QTHR_SAN_SHORT} ENVIRONMENT "${env}")
  endif()
endfunction()

function(_qthr_test_flags target)
  target_include_directories(${target} PRIVATE "${QTHR_TEST_COMMON_DIR}")
  target_compile_options(${target} PRIVATE ${QTHR_TEST_WARNINGS} ${T_COMPILE_OPTIONS})
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE ${QTHR_TEST_DEFINITIONS})
  set_target_properties(${target} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
endfunction()

function(qthr_add_c_test name)
  _qthr_add_test(c test_${name} "test_${name}.c" OFF ${name} ${ARGN})
endfunction()

function(qthr_add_reliability_test name)
  _qthr_add_test(reliability rel_${name} "${name}.c" ON ${name} ${ARGN})
endfunction()
