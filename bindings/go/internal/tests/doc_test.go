// Package tests is the test suite and the benchmarks of package qthr. They
// live apart from the package so that test files added next to the package
// (package qthr_test) cannot clash with their helpers.
package tests
