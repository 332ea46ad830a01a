# Turns cargo's staticlib into the one relocatable object both installed libraries are
# made of (run at build time: cmake -P qthr_prelink.cmake with the variables below).
#
#   ARCHIVE  cargo's libqthr.a (the qthr crate plus Rust's std and the dependencies)
#   OUT      the object to write
#   LD OBJCOPY READELF  the binutils to use
#
# 1. A partial link (ld -r) rooted at the exported functions (every defined global named
#    qthr_*), with --gc-sections: only code reachable from the C API is kept.
# 2. objcopy --keep-global-symbol='qthr_*': every other global (Rust's mangled symbols,
#    compiler-builtins' __muldc3 & co, rust_eh_personality, ...) becomes local, so a
#    program that also links another Rust staticlib, or its own __muldc3, sees no clash.
#    The embedded LLVM bitcode (.llvmbc/.llvmcmd, from Rust's prebuilt std) is dropped: no
#    linker uses it, and the LLVM plugin of binutils' nm/ar chokes on it ("Invalid encoding").
# 3. Checks: the object defines exactly the qthr_* globals the archive defines, nothing else.
cmake_minimum_required(VERSION 3.20)

foreach(v ARCHIVE OUT LD OBJCOPY READELF)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "qthr_prelink: ${v} is not set")
  endif()
endforeach()

# Defined global (or weak) symbols of an ELF object or archive, one list entry each.
function(_qthr_defined_globals file out_var)
  execute_process(COMMAND "${READELF}" -sW "${file}"
                  OUTPUT_VARIABLE syms RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "qthr_prelink: readelf -s ${file} failed: ${err}")
  endif()
  string(REGEX MATCHALL "[^\n]+" lines "${syms}")
  set(names "")
  foreach(line IN LISTS lines)
    # Num: Value Size Type Bind Vis Ndx Name
    if(line MATCHES "^ *[0-9]+: [0-9a-f]+ +[0-9]+ +[A-Z_]+ +(GLOBAL|WEAK|UNIQUE) +[A-Z]+ +([0-9]+|ABS|COM) +([^ ]+)$")
      list(APPEND names "${CMAKE_MATCH_3}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES names)
  list(SORT names)
  set(${out_var} "${names}" PARENT_SCOPE)
endfunction()

_qthr_defined_globals("${ARCHIVE}" all)
set(exports "${all}")
list(FILTER exports INCLUDE REGEX "^qthr_")
if(NOT exports)
  message(FATAL_ERROR "qthr_prelink: ${ARCHIVE} defines no qthr_* function")
endif()

set(roots "")
foreach(sym IN LISTS exports)
  list(APPEND roots "--undefined=${sym}")
endforeach()

get_filename_component(out_dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${out_dir}")
set(tmp "${OUT}.partial")
execute_process(COMMAND "${LD}" -r --gc-sections ${roots} -o "${tmp}" "${ARCHIVE}"
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "qthr_prelink: ld -r failed:\n${err}")
endif()
execute_process(COMMAND "${OBJCOPY}" --remove-section=.llvmbc --remove-section=.llvmcmd
                        --wildcard "--keep-global-symbol=qthr_*" "${tmp}" "${OUT}"
                RESULT_VARIABLE rc ERROR_VARIABLE err)
file(REMOVE "${tmp}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "qthr_prelink: objcopy failed:\n${err}")
endif()

_qthr_defined_globals("${OUT}" kept)
if(NOT kept STREQUAL exports)
  file(REMOVE "${OUT}")
  message(FATAL_ERROR "qthr_prelink: the object's globals (${kept}) are not the archive's "
                      "qthr_* functions (${exports})")
endif()
list(LENGTH exports n_exports)
list(LENGTH all n_all)
math(EXPR n_local "${n_all} - ${n_exports}")
message(STATUS "qthr: ${n_exports} qthr_* functions kept global, ${n_local} other globals made local")
