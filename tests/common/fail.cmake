# cmake -DMSG=<text> -P fail.cmake: a ctest test that fails with MSG (a missing tool).
message(FATAL_ERROR "${MSG}")
