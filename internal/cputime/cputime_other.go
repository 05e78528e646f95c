//go:build !unix

// Package cputime reports the CPU time this process has used, for benchmarks on a shared machine where wall
// time alone understates the code.
package cputime

import "time"

// Process returns 0 where getrusage is not available.
func Process() time.Duration { return 0 }
