// Package ctest holds C functions the tests of package qthr hand to
// Runtime.CallC (cgo is not allowed in _test.go files). Test-only: nothing
// outside the module can import it.
package ctest

/*
#define _GNU_SOURCE
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <stdlib.h>

// Returns arg + 1 (arg read as an integer).
static void *ctest_add_one(void *arg) {
	return (void *)((uintptr_t)arg + 1);
}

// Returns the calling thread's id.
static void *ctest_gettid(void *arg) {
	(void)arg;
	return (void *)(uintptr_t)syscall(SYS_gettid);
}

// Increments the counter arg points to (C memory) and returns its new value.
static void *ctest_incr(void *arg) {
	uint64_t *p = (uint64_t *)arg;
	return (void *)(uintptr_t)(++*p);
}

// Returns its argument: the cheapest possible job.
static void *ctest_noop(void *arg) {
	return arg;
}

// An integer as a pointer-sized argument (no unsafe conversion in Go).
static void *ctest_int_arg(uintptr_t v) { return (void *)v; }

static void *ctest_addr_add_one(void) { return (void *)ctest_add_one; }
static void *ctest_addr_gettid(void) { return (void *)ctest_gettid; }
static void *ctest_addr_incr(void) { return (void *)ctest_incr; }
static void *ctest_addr_noop(void) { return (void *)ctest_noop; }

// Calls fn(arg) on the calling thread: a plain cgo call, the yardstick of CallC.
static void *ctest_call(void *fn, void *arg) { return ((void *(*)(void *))fn)(arg); }
*/
import "C"

import "unsafe"

// AddOne is a qthr_fn returning its argument plus one.
func AddOne() unsafe.Pointer { return C.ctest_addr_add_one() }

// Gettid is a qthr_fn returning the id of the thread that runs it.
func Gettid() unsafe.Pointer { return C.ctest_addr_gettid() }

// Incr is a qthr_fn incrementing the uint64_t (C memory) its argument points to.
func Incr() unsafe.Pointer { return C.ctest_addr_incr() }

// Noop is a qthr_fn returning its argument.
func Noop() unsafe.Pointer { return C.ctest_addr_noop() }

// CallDirect calls the qthr_fn fn with arg right here, through one cgo call.
func CallDirect(fn, arg unsafe.Pointer) unsafe.Pointer { return C.ctest_call(fn, arg) }

// IntArg makes an integer argument for a qthr_fn.
func IntArg(v uintptr) unsafe.Pointer { return C.ctest_int_arg(C.uintptr_t(v)) }

// Counter is a uint64 counter in C memory, for Incr.
type Counter struct{ p *C.uint64_t }

// NewCounter allocates a zeroed counter in C memory.
func NewCounter() Counter {
	return Counter{p: (*C.uint64_t)(C.calloc(1, 8))}
}

// Ptr is the counter's address, to pass as CallC's argument.
func (c Counter) Ptr() unsafe.Pointer { return unsafe.Pointer(c.p) }

// Value reads the counter.
func (c Counter) Value() uint64 { return uint64(*c.p) }

// Free releases the counter.
func (c Counter) Free() { C.free(unsafe.Pointer(c.p)) }
