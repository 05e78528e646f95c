package replay

import (
	"net/netip"
	"slices"
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

// TestParseAddrOwn: matching the ENI's own texts by their ends and length gives what parsing gives, for texts
// that share an end, a length or a prefix with an own address, short texts and IPv6, and reports a match
// exactly for an own text (another spelling of an own IPv6 address is parsed, not matched).
func TestParseAddrOwn(t *testing.T) {
	var own []addrText
	ownTexts := []string{"10.20.1.46", "1.2.3.4", "2001:db8::1:0:0:46", "10.20.11.146"}
	for _, s := range ownTexts {
		a := netip.MustParseAddr(s)
		o := addrText{s: s}
		o.head, o.tail = textEnds(s)
		o.b, o.kind = encodeAddr(a)
		own = append(own, o)
	}
	for _, s := range []string{"10.20.1.46", "10.20.1.47", "10.21.1.46", "10.20.11.46", "10.20.11.146", "1.2.3.4", "1.2.3.5",
		"2001:db8::1:0:0:46", "2001:db8::2:0:0:46", "2001:0db8::1:0:0:46", "", "bad", "10.20.1.460"} {
		var got, want [16]byte
		var badGot, badWant int64
		gk, isOwn := parseAddrOwn(s, &got, &badGot, own)
		wk := parseAddrInto(s, &want, &badWant)
		if gk != wk || got != want || badGot != badWant {
			t.Errorf("%q: parseAddrOwn = %v %v bad %d, parseAddrInto = %v %v bad %d", s, gk, got, badGot, wk, want, badWant)
		}
		if wantOwn := slices.Contains(ownTexts, s); isOwn != wantOwn {
			t.Errorf("%q: isOwn = %t, want %t", s, isOwn, wantOwn)
		}
	}
}
