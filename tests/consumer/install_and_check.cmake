# Installs the build into PREFIX (fresh) and checks what a distribution package would
# ship: layout, links, soname, symbol versions, size, split debug info, the archive's
# globals, the CMake and pkg-config files. Then: a DESTDIR install, a `--strip` install
# (PREFIX_STRIP) and a runtime-component-only install (PREFIX_RUNTIME).
cmake_minimum_required(VERSION 3.20)
function(fail msg)
  message(FATAL_ERROR "install check: ${msg}")
endfunction()
find_program(READELF readelf REQUIRED)

function(install_to prefix)
  file(REMOVE_RECURSE "${prefix}")
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    fail("cmake --install ${ARGN} --prefix ${prefix} failed")
  endif()
endfunction()

# Section names of an ELF file.
function(sections file out)
  execute_process(COMMAND "${READELF}" -SW "${file}" OUTPUT_VARIABLE s RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    fail("readelf -S ${file} failed")
  endif()
  set(${out} "${s}" PARENT_SCOPE)
endfunction()

install_to("${PREFIX}")
set(L "${PREFIX}/${LIBDIR}")
set(SO "${L}/${REALNAME}")
foreach(f "${SO}" "${L}/libqthr.a" "${PREFIX}/${INCLUDEDIR}/qthr.h" "${PREFIX}/${INCLUDEDIR}/qthr.hpp"
          "${L}/cmake/qthr/qthrConfig.cmake" "${L}/cmake/qthr/qthrConfigVersion.cmake"
          "${L}/cmake/qthr/qthrTargets.cmake" "${L}/cmake/qthr/qthrStaticTargets.cmake"
          "${L}/pkgconfig/qthr.pc" "${PREFIX}/${DATADIR}/qthr/valgrind.supp" "${PREFIX}/${DATADIR}/qthr/tsan.supp"
          "${PREFIX}/${DATADIR}/qthr/lsan.supp")
  if(NOT EXISTS "${f}" OR IS_SYMLINK "${f}")
    fail("${f} is missing or not a regular file")
  endif()
endforeach()

# libqthr.so -> libqthr.so.0 -> libqthr.so.X.Y.Z, relative links
foreach(pair "libqthr.so=${SONAME}" "${SONAME}=${REALNAME}")
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 link)
  list(GET pair 1 target)
  if(NOT IS_SYMLINK "${L}/${link}")
    fail("${L}/${link} is not a symlink")
  endif()
  file(READ_SYMLINK "${L}/${link}" got)
  if(NOT got STREQUAL target)
    fail("${link} -> ${got}, expected -> ${target}")
  endif()
endforeach()

execute_process(COMMAND "${READELF}" -d "${SO}" OUTPUT_VARIABLE dyn)
if(NOT dyn MATCHES "SONAME\\)[^\n]*\\[${SONAME}\\]")
  fail("the installed library's SONAME is not ${SONAME}:\n${dyn}")
endif()
if(NOT dyn MATCHES "BIND_NOW" AND NOT dyn MATCHES "FLAGS[^\n]*NOW")
  fail("the installed library is not linked with -z now:\n${dyn}")
endif()

# Every defined dynamic symbol is a qthr_* function with the version node QTHR_0.
execute_process(COMMAND "${READELF}" --dyn-syms -W "${SO}" OUTPUT_VARIABLE dynsyms)
string(REGEX MATCHALL "[^\n]+" lines "${dynsyms}")
set(exported 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^ *[0-9]+: [0-9a-f]+ +[0-9]+ +[A-Z_]+ +(GLOBAL|WEAK|UNIQUE) +[A-Z]+ +([0-9]+|ABS) +([^ ]+)$")
    set(name "${CMAKE_MATCH_3}")
    if(name STREQUAL "QTHR_0")
      continue() # the version definition itself
    endif()
    if(NOT name MATCHES "^qthr_[a-z0-9_]+@@QTHR_0$")
      fail("${REALNAME} exports ${name} (only qthr_*@@QTHR_0 expected)")
    endif()
    math(EXPR exported "${exported} + 1")
  endif()
endforeach()
if(exported LESS 17)
  fail("${REALNAME} exports ${exported} versioned qthr_* functions, expected at least 17:\n${dynsyms}")
endif()

# Shipped without its debug info, small; the debug info is where gdb and distributions
# look for it (lib/debug/.build-id/xx/yyyy.debug), and matches.
file(SIZE "${SO}" so_size)
if(so_size GREATER MAX_SO_BYTES)
  fail("${REALNAME} is ${so_size} bytes, more than ${MAX_SO_BYTES}")
endif()
sections("${SO}" so_sections)
if(so_sections MATCHES "\\.debug_info" OR NOT so_sections MATCHES "\\.gnu_debuglink")
  fail("${REALNAME} still has its debug info, or no .gnu_debuglink")
endif()
execute_process(COMMAND "${READELF}" -n "${SO}" OUTPUT_VARIABLE notes)
if(NOT notes MATCHES "Build ID: ([0-9a-f][0-9a-f])([0-9a-f]+)")
  fail("${REALNAME} has no build id")
endif()
set(DEBUG_FILE "${PREFIX}/lib/debug/.build-id/${CMAKE_MATCH_1}/${CMAKE_MATCH_2}.debug")
if(NOT EXISTS "${DEBUG_FILE}")
  fail("the debug info is not at ${DEBUG_FILE}")
endif()
sections("${DEBUG_FILE}" dbg_sections)
if(NOT dbg_sections MATCHES "\\.debug_info" AND NOT dbg_sections MATCHES "\\.debug_line")
  fail("${DEBUG_FILE} has no DWARF")
endif()

# The archive defines no global but the qthr_* functions.
execute_process(COMMAND "${READELF}" -sW "${L}/libqthr.a" OUTPUT_VARIABLE asyms)
string(REGEX MATCHALL "[^\n]+" lines "${asyms}")
set(foreign "")
set(n_qthr 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^ *[0-9]+: [0-9a-f]+ +[0-9]+ +[A-Z_]+ +(GLOBAL|WEAK|UNIQUE) +[A-Z]+ +([0-9]+|ABS|COM) +([^ ]+)$")
    if(CMAKE_MATCH_3 MATCHES "^qthr_")
      math(EXPR n_qthr "${n_qthr} + 1")
    else()
      list(APPEND foreign "${CMAKE_MATCH_3}")
    endif()
  endif()
endforeach()
if(foreign OR n_qthr LESS 17)
  fail("libqthr.a defines foreign globals (${foreign}) or too few qthr_* (${n_qthr})")
endif()

file(READ "${L}/pkgconfig/qthr.pc" pc)
if(NOT pc MATCHES "prefix=${PREFIX}\n" OR NOT pc MATCHES "Version: ${VERSION}\n"
   OR NOT pc MATCHES "Libs: -L\\\${libdir} -lqthr\n" OR NOT pc MATCHES "Libs.private:[^\n]*-lpthread")
  fail("unexpected qthr.pc:\n${pc}")
endif()
message(STATUS "install under ${PREFIX}: ${REALNAME} ${so_size} bytes, ${exported} exports @QTHR_0, "
               "libqthr.a: ${n_qthr} globals, all qthr_*")

# A staged (DESTDIR) install keeps the real prefix inside the files.
file(REMOVE_RECURSE "${STAGE}")
execute_process(COMMAND "${CMAKE_COMMAND}" -E env "DESTDIR=${STAGE}"
                        "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix /opt/qthr-test
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  fail("DESTDIR install failed")
endif()
if(NOT EXISTS "${STAGE}/opt/qthr-test/${LIBDIR}/${REALNAME}" OR EXISTS "/opt/qthr-test")
  fail("DESTDIR install went to the wrong place")
endif()
file(GLOB staged_debug "${STAGE}/opt/qthr-test/lib/debug/.build-id/*/*.debug")
if(NOT staged_debug)
  fail("DESTDIR install: no debug file under lib/debug/.build-id")
endif()
file(READ "${STAGE}/opt/qthr-test/${LIBDIR}/pkgconfig/qthr.pc" pc)
if(NOT pc MATCHES "prefix=/opt/qthr-test\n")
  fail("DESTDIR install: qthr.pc has the wrong prefix:\n${pc}")
endif()
file(REMOVE_RECURSE "${STAGE}")

# cmake --install --strip: no symbol table left in the shared library, no debug info in
# the archive; the debug file is still installed.
install_to("${PREFIX_STRIP}" --strip)
sections("${PREFIX_STRIP}/${LIBDIR}/${REALNAME}" s)
if(s MATCHES "\\.symtab")
  fail("--strip left a symbol table in ${REALNAME}")
endif()
sections("${PREFIX_STRIP}/${LIBDIR}/libqthr.a" s)
if(s MATCHES "\\.debug_")
  fail("--strip left debug info in libqthr.a")
endif()
file(SIZE "${PREFIX_STRIP}/${LIBDIR}/${REALNAME}" stripped_size)
file(SIZE "${PREFIX_STRIP}/${LIBDIR}/libqthr.a" stripped_a)
file(GLOB stripped_debug "${PREFIX_STRIP}/lib/debug/.build-id/*/*.debug")
if(NOT stripped_debug)
  fail("--strip: no debug file under lib/debug/.build-id")
endif()
message(STATUS "--strip install: ${REALNAME} ${stripped_size} bytes, libqthr.a ${stripped_a} bytes")
file(REMOVE_RECURSE "${PREFIX_STRIP}")

# The runtime component alone is the shared library and its soname link: what a
# distribution's runtime package holds.
install_to("${PREFIX_RUNTIME}" --component runtime)
file(GLOB_RECURSE got RELATIVE "${PREFIX_RUNTIME}" "${PREFIX_RUNTIME}/*")
list(SORT got)
set(want "${LIBDIR}/${REALNAME}" "${LIBDIR}/${SONAME}")
list(SORT want)
if(NOT got STREQUAL want)
  fail("the runtime component installs ${got}, expected ${want}")
endif()
file(REMOVE_RECURSE "${PREFIX_RUNTIME}")
