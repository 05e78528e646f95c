package replay

import (
	"net/netip"
	"testing"
)

// FuzzParseIPv4: the fast path agrees with netip.ParseAddr whenever it accepts, and accepts every plain IPv4
// text that netip accepts.
func FuzzParseIPv4(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "255.255.255.255", "0.0.0.0", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1",
		"1..2.3", ".1.2.3", "1.2.3.", "::1", "::ffff:1.2.3.4", "1.2.3.4%eth0", "", "-", "1.2.3.04", "300.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseIPv4(s)
		want, err := netip.ParseAddr(s)
		if ok && (err != nil || got != want) {
			t.Fatalf("parseIPv4(%q) = %v, netip: %v %v", s, got, want, err)
		}
		if !ok && err == nil && want.Is4() {
			t.Fatalf("parseIPv4(%q) refused what netip parses as %v", s, want)
		}
	})
}
