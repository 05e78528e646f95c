//go:build !amd64

package replay

import "unsafe"

// prefetch is a no-op where no prefetch instruction is wired up (table.peek then costs nothing).
func prefetch(p unsafe.Pointer) {}
