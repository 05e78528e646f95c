//go:build !amd64

package replay

import "unsafe"

// prefetch2 is a no-op where no prefetch instruction is wired up (table.peek then costs nothing).
func prefetch2(p, q unsafe.Pointer) {}
