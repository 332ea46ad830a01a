package main

// A minimal cgo wrapper over the system libsqlite3 (Debian: libsqlite3-dev):
// just what the example needs. The connection is opened with
// SQLITE_OPEN_NOMUTEX, i.e. without SQLite's own locking: it is only correct
// because qthr confines every use of it to one thread.

/*
#cgo LDFLAGS: -lsqlite3
#include <stdlib.h>
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro casting -1 to a function pointer: not usable from Go.
static int bind_text(sqlite3_stmt *s, int i, const char *v, int n) {
	return sqlite3_bind_text(s, i, v, n, SQLITE_TRANSIENT);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// conn is a SQLite connection that belongs to the thread that opened it.
type conn struct {
	db    *C.sqlite3
	tid   int // the only thread allowed to touch db
	stmts map[string]*C.sqlite3_stmt
}

func openConn(path string) (*conn, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var db *C.sqlite3
	flags := C.SQLITE_OPEN_READWRITE | C.SQLITE_OPEN_CREATE | C.SQLITE_OPEN_NOMUTEX
	if rc := C.sqlite3_open_v2(cpath, &db, C.int(flags), nil); rc != C.SQLITE_OK {
		err := fmt.Errorf("sqlite3_open_v2(%s): %s", path, C.GoString(C.sqlite3_errstr(rc)))
		C.sqlite3_close(db)
		return nil, err
	}
	return &conn{db: db, tid: syscall.Gettid(), stmts: map[string]*C.sqlite3_stmt{}}, nil
}

// own panics if the connection is used off its thread: the bug qthr prevents.
func (c *conn) own() {
	if t := syscall.Gettid(); t != c.tid {
		panic(fmt.Sprintf("sqlite connection of thread %d used on thread %d", c.tid, t))
	}
}

func (c *conn) err(rc C.int) error {
	return fmt.Errorf("sqlite: %s (%d)", C.GoString(C.sqlite3_errmsg(c.db)), int(rc))
}

func (c *conn) exec(sql string) error {
	c.own()
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	if rc := C.sqlite3_exec(c.db, csql, nil, nil, nil); rc != C.SQLITE_OK {
		return c.err(rc)
	}
	return nil
}

// prepared returns a cached prepared statement.
func (c *conn) prepared(sql string) (*C.sqlite3_stmt, error) {
	if s, ok := c.stmts[sql]; ok {
		return s, nil
	}
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	var s *C.sqlite3_stmt
	if rc := C.sqlite3_prepare_v2(c.db, csql, -1, &s, nil); rc != C.SQLITE_OK {
		return nil, c.err(rc)
	}
	c.stmts[sql] = s
	return s, nil
}

// insert runs "INSERT INTO events(worker, seq, msg) VALUES(?,?,?)" and returns the rowid.
func (c *conn) insert(worker, seq int, msg string) (int64, error) {
	c.own()
	s, err := c.prepared("INSERT INTO events(worker, seq, msg) VALUES(?, ?, ?)")
	if err != nil {
		return 0, err
	}
	defer C.sqlite3_reset(s)
	C.sqlite3_bind_int64(s, 1, C.sqlite3_int64(worker))
	C.sqlite3_bind_int64(s, 2, C.sqlite3_int64(seq))
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	C.bind_text(s, 3, cmsg, C.int(len(msg)))
	if rc := C.sqlite3_step(s); rc != C.SQLITE_DONE {
		return 0, c.err(rc)
	}
	return int64(C.sqlite3_last_insert_rowid(c.db)), nil
}

// queryInt runs a query returning one integer.
func (c *conn) queryInt(sql string) (int64, error) {
	c.own()
	s, err := c.prepared(sql)
	if err != nil {
		return 0, err
	}
	defer C.sqlite3_reset(s)
	if rc := C.sqlite3_step(s); rc != C.SQLITE_ROW {
		return 0, c.err(rc)
	}
	return int64(C.sqlite3_column_int64(s, 0)), nil
}

func (c *conn) close() error {
	c.own()
	for _, s := range c.stmts {
		C.sqlite3_finalize(s)
	}
	c.stmts = nil
	if rc := C.sqlite3_close(c.db); rc != C.SQLITE_OK {
		return errors.New("sqlite3_close: " + C.GoString(C.sqlite3_errstr(rc)))
	}
	return nil
}
