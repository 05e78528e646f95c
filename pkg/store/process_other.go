//go:build !unix

package store

// processRunning reports whether a process with id pid exists: here it cannot tell, so yes, and temporary
// files of killed runs stay.
func processRunning(pid int) bool { return true }
