//go:build unix

// Package cputime reports the CPU time this process has used, for benchmarks on a shared machine where wall
// time alone understates the code.
package cputime

import (
	"syscall"
	"time"
)

// Process is the user+system CPU time of this process so far (all threads, cgo ones included); 0 when
// unavailable.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
