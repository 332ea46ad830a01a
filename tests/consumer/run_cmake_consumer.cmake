# Configures, builds and runs tests/consumer/cmake against the install in PREFIX only.
file(REMOVE_RECURSE "${BIN}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SRC}" -B "${BIN}" -G "${GENERATOR}"
          "-DCMAKE_C_COMPILER=${CC}"
          "-DCMAKE_PREFIX_PATH=${PREFIX}"
          "-DEXPECT_PREFIX=${PREFIX}"
          -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
          -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
          -DCMAKE_BUILD_TYPE=Release
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer configure failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BIN}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer build failed")
endif()
foreach(app app app_static)
  execute_process(COMMAND "${BIN}/${app}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${app} failed (${rc})")
  endif()
endforeach()
find_program(READELF readelf)
if(READELF)
  execute_process(COMMAND "${READELF}" -d "${BIN}/app" OUTPUT_VARIABLE dyn)
  if(NOT dyn MATCHES "libqthr\\.so\\.0" OR NOT dyn MATCHES "${PREFIX}")
    message(FATAL_ERROR "app does not load libqthr.so.0 from ${PREFIX}:\n${dyn}")
  endif()
  execute_process(COMMAND "${READELF}" -d "${BIN}/app_static" OUTPUT_VARIABLE dyn)
  if(dyn MATCHES "libqthr")
    message(FATAL_ERROR "app_static depends on the shared libqthr:\n${dyn}")
  endif()
endif()
