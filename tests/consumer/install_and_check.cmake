# Installs the build into PREFIX (fresh) and checks the layout; then a DESTDIR install.
function(fail msg)
  message(FATAL_ERROR "install check: ${msg}")
endfunction()

file(REMOVE_RECURSE "${PREFIX}" "${STAGE}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  fail("cmake --install failed")
endif()

set(L "${PREFIX}/${LIBDIR}")
foreach(f "${L}/${REALNAME}" "${L}/libqthr.a" "${PREFIX}/${INCLUDEDIR}/qthr.h"
          "${L}/cmake/qthr/qthrConfig.cmake" "${L}/cmake/qthr/qthrConfigVersion.cmake"
          "${L}/cmake/qthr/qthrTargets.cmake" "${L}/pkgconfig/qthr.pc")
  if(NOT EXISTS "${f}" OR IS_SYMLINK "${f}")
    fail("${f} is missing or not a regular file")
  endif()
endforeach()

# libqthr.so -> libqthr.so.0 -> libqthr.so.0.1.0, relative links
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

find_program(READELF readelf)
if(READELF)
  execute_process(COMMAND "${READELF}" -d "${L}/${REALNAME}" OUTPUT_VARIABLE dyn)
  if(NOT dyn MATCHES "SONAME\\)[^\n]*\\[${SONAME}\\]")
    fail("the installed library's SONAME is not ${SONAME}:\n${dyn}")
  endif()
endif()

if(EXISTS "${HPP}" AND NOT EXISTS "${PREFIX}/${INCLUDEDIR}/qthr.hpp")
  fail("bindings/cpp/qthr.hpp exists but was not installed")
endif()

file(READ "${L}/pkgconfig/qthr.pc" pc)
if(NOT pc MATCHES "prefix=${PREFIX}\n" OR NOT pc MATCHES "Version: ${VERSION}\n"
   OR NOT pc MATCHES "Libs.private:[^\n]*-lpthread")
  fail("unexpected qthr.pc:\n${pc}")
endif()

# A staged (DESTDIR) install keeps the real prefix inside the files.
execute_process(COMMAND "${CMAKE_COMMAND}" -E env "DESTDIR=${STAGE}"
                        "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix /opt/qthr-test
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  fail("DESTDIR install failed")
endif()
if(NOT EXISTS "${STAGE}/opt/qthr-test/${LIBDIR}/${REALNAME}" OR EXISTS "/opt/qthr-test")
  fail("DESTDIR install went to the wrong place")
endif()
file(READ "${STAGE}/opt/qthr-test/${LIBDIR}/pkgconfig/qthr.pc" pc)
if(NOT pc MATCHES "prefix=/opt/qthr-test\n")
  fail("DESTDIR install: qthr.pc has the wrong prefix:\n${pc}")
endif()
file(REMOVE_RECURSE "${STAGE}")
message(STATUS "install layout under ${PREFIX}: ok")
