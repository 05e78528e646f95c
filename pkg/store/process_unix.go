//go:build unix

package store

import (
	"errors"
	"syscall"
)

// processRunning reports whether a process with id pid exists (when in doubt, yes).
func processRunning(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}
