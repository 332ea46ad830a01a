cmake_minimum_required(VERSION 3.20)
# Configures and builds a consumer project against the install in PREFIX only, then runs
# the programs named in RUN (relative to the build directory).
#   cmake -DSRC=<project> -DBIN=<build dir> -DPREFIX=<install> -DGENERATOR=... -DCC=... -DCXX=...
#         [-DRUN=a,b] [-DSTATIC_APPS=a,b] -P run_cmake_consumer.cmake   (comma-separated)
#   [-DCOPY_WITHOUT_ARCHIVE_FROM=<install>]: first make PREFIX a copy of that install without
#   libqthr.a, as a distribution's -devel package that drops static libraries ships it.
string(REPLACE "," ";" RUN "${RUN}")
string(REPLACE "," ";" STATIC_APPS "${STATIC_APPS}")
if(COPY_WITHOUT_ARCHIVE_FROM)
  file(REMOVE_RECURSE "${PREFIX}")
  file(COPY "${COPY_WITHOUT_ARCHIVE_FROM}/" DESTINATION "${PREFIX}")
  file(GLOB_RECURSE archives "${PREFIX}/*.a")
  if(NOT archives)
    message(FATAL_ERROR "no libqthr.a under ${COPY_WITHOUT_ARCHIVE_FROM}")
  endif()
  file(REMOVE ${archives})
endif()
file(REMOVE_RECURSE "${BIN}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SRC}" -B "${BIN}" -G "${GENERATOR}"
          "-DCMAKE_C_COMPILER=${CC}" "-DCMAKE_CXX_COMPILER=${CXX}"
          "-DCMAKE_PREFIX_PATH=${PREFIX}"
          "-DEXPECT_PREFIX=${PREFIX}"
          -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
          -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
          -DCMAKE_BUILD_TYPE=Release
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer configure failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BIN}" --parallel 2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer build failed")
endif()
foreach(app IN LISTS RUN)
  execute_process(COMMAND "${BIN}/${app}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${app} failed (${rc})")
  endif()
endforeach()
find_program(READELF readelf REQUIRED)
foreach(app IN LISTS RUN)
  execute_process(COMMAND "${READELF}" -d "${BIN}/${app}" OUTPUT_VARIABLE dyn)
  if(app IN_LIST STATIC_APPS)
    if(dyn MATCHES "libqthr")
      message(FATAL_ERROR "${app} depends on the shared libqthr:\n${dyn}")
    endif()
  elseif(NOT dyn MATCHES "NEEDED[^\n]*libqthr\\.so\\.0\\]" OR NOT dyn MATCHES "${PREFIX}")
    message(FATAL_ERROR "${app} does not load libqthr.so.0 from ${PREFIX}:\n${dyn}")
  endif()
endforeach()
