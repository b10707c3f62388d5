//go:build unix

package verifier_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used. The
// benchmarks report it per operation next to wall time, because on a
// shared machine wall time also counts the time other processes ran.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
