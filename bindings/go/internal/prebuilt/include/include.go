// Package include carries qthr.h, a copy of the repository's include/qthr.h,
// for package qthr to compile against when it links the prebuilt archive (the
// default). It holds no Go code: package qthr imports it only so that the
// header travels with the module, also into vendor/ (go mod vendor copies the
// directories of imported packages).
package include
