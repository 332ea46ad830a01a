//go:build cgo && linux

package qthr

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// checkPinnable does what the worker will do, pinning a thread to cpu, on a
// thread of its own, so that a CPU that cannot be used is reported with the
// OS's reason. The goroutine exits still locked to that thread, so Go discards
// the thread instead of reusing it with the changed affinity.
func checkPinnable(cpu int) error {
	const maskWords = 1024 / 64 // CPU_SETSIZE bits
	if cpu >= maskWords*64 {
		return fmt.Errorf("the OS interface names CPUs 0 to %d only: %w", maskWords*64-1, syscall.EINVAL)
	}
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		var want [maskWords]uint64
		want[cpu/64] = 1 << (cpu % 64)
		if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(want), uintptr(unsafe.Pointer(&want[0]))); e != 0 {
			res <- fmt.Errorf("sched_setaffinity: %w", e)
			return
		}
		res <- nil
	}()
	return <-res
}
