//go:build !amd64

package conntrack

import "unsafe"

// prefetch2 is a no-op where no prefetch instruction is wired up (Table.Peek then costs nothing).
func prefetch2(p, q unsafe.Pointer) {}
