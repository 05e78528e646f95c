package ingest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseOne parses line with the parser of format (with and without the IPv4 numbers) and returns the
// reason (or "ok"), the blamed field, and the stored row rendered by renderRows; both parsing paths must agree.
func parseOne(t *testing.T, format Format, line string) (string, string) {
	t.Helper()
	var result, row string
	for _, ipv4 := range []bool{false, true} {
		out, l, lp := parserWith(format, ipv4)
		b := newBatch(nil, out, l, "fuzz", 4, 64, nil)
		reason, fi := lp.parse(b, []byte(line), 1)
		var got strings.Builder
		if reason == 0 {
			rec := b.record(nil)
			renderRows(&got, rec)
			rec.Release()
		}
		checkSameAsGeneral(t, format, ipv4, []byte(line), got.String(), reason, fi, lp)
		res := "ok"
		if reason != 0 {
			res = reason.String()
			if fi >= 0 {
				res += " " + format[fi]
			}
		}
		if !ipv4 {
			result, row = res, got.String()
		} else if res != result {
			t.Fatalf("with IPv4 numbers: %s, without: %s", res, result)
		}
	}
	return result, row
}

func mustFormat(t *testing.T, s string) Format {
	t.Helper()
	f, err := ParseLogFormat(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRanges: every numeric field has its documented range; a number outside it is a bad line
// (out-of-range, naming the field), in the fast and the general parser alike. A value too large for the
// column's type stays bad-number.
func TestRanges(t *testing.T) {
	v2 := defaultFormat()
	rec := func(fields map[int]string) string {
		toks := strings.Fields("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK")
		for i, v := range fields {
			toks[i] = v
		}
		return strings.Join(toks, " ")
	}
	wide := mustFormat(t, "version tcp-flags traffic-path encryption-status packets")
	tests := []struct {
		name   string
		format Format
		line   string
		want   string
	}{
		{"dstport 65979", v2, rec(map[int]string{6: "65979"}), "out-of-range dstport"},
		{"srcport 65536", v2, rec(map[int]string{5: "65536"}), "out-of-range srcport"},
		{"ports 65535", v2, rec(map[int]string{5: "65535", 6: "0"}), "ok"},
		{"protocol 256", v2, rec(map[int]string{7: "256"}), "out-of-range protocol"},
		{"protocol 255", v2, rec(map[int]string{7: "255"}), "ok"},
		{"version 1", v2, rec(map[int]string{0: "1"}), "out-of-range version"},
		{"version 9", v2, rec(map[int]string{0: "9"}), "out-of-range version"},
		{"version 8", v2, rec(map[int]string{0: "8"}), "ok"},
		{"srcport beyond int32 stays bad-number", v2, rec(map[int]string{5: "99999999999"}), "bad-number srcport"},
		{"packets beyond int64", v2, rec(map[int]string{8: "9223372036854775808"}), "bad-number packets"},
		{"packets max int64", v2, rec(map[int]string{8: "9223372036854775807"}), "ok"},
		{"negative bytes", v2, rec(map[int]string{9: "-5"}), "bad-number bytes"},
		{"tcp-flags 256", wide, "3 256 1 0 1", "out-of-range tcp-flags"},
		{"tcp-flags 255", wide, "3 255 1 0 1", "ok"},
		{"traffic-path 0", wide, "5 2 0 0 1", "out-of-range traffic-path"},
		{"traffic-path 9", wide, "5 2 9 0 1", "out-of-range traffic-path"},
		{"traffic-path 8", wide, "5 2 8 0 1", "ok"},
		{"encryption-status 4", wide, "8 2 1 4 1", "out-of-range encryption-status"},
		{"encryption-status 3", wide, "8 2 1 3 1", "ok"},
		{"NULLs are in range", wide, "- - - - -", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := parseOne(t, tt.format, tt.line)
			if got != tt.want {
				t.Errorf("%q: %s, want %s", tt.line, got, tt.want)
			}
		})
	}
}

// TestIPv6Canonical: every spelling of one address is stored as one text, netip's canonical form
// (lowercase, zero-compressed); IPv4 text is stored as written (it has one spelling).
func TestIPv6Canonical(t *testing.T) {
	f := mustFormat(t, "srcaddr dstaddr pkt-srcaddr pkt-dstaddr")
	tests := []struct {
		name, line, want string
	}{
		{"upper case", "2A01:A700::1 2001:DB8::2 - -", "srcaddr=2a01:a700::1 dstaddr=2001:db8::2"},
		{"zeros spelled out", "2a01:a700:0:0::2 2a01:a700:0000:0000:0000:0000:0000:0002 - -", "srcaddr=2a01:a700::2 dstaddr=2a01:a700::2"},
		{"pkt addresses", "10.0.0.1 10.0.0.2 2001:0DB8:0:0:1:0:0:1 ::FFFF:10.0.0.1", "srcaddr=10.0.0.1 dstaddr=10.0.0.2 pkt_srcaddr=2001:db8::1:0:0:1 pkt_dstaddr=::ffff:10.0.0.1"},
		{"canonical stays", "2001:db8::1 ::1 - -", "srcaddr=2001:db8::1 dstaddr=::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, row := parseOne(t, f, tt.line)
			if res != "ok" {
				t.Fatalf("%q: %s", tt.line, res)
			}
			if diff := cmp.Diff("fuzz:1 "+tt.want+"\n", row); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestNoAllocsIPv6: canonicalising IPv6 text allocates nothing per line.
func TestNoAllocsIPv6(t *testing.T) {
	for _, ipv4 := range []bool{false, true} {
		out, l, lp := parserWith(defaultFormat(), ipv4)
		line := []byte("2 123456789010 eni-1 2001:DB8:0:0::1 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK")
		b := newBatch(nil, out, l, "x", 2000, 300000, nil)
		allocs := testing.AllocsPerRun(1000, func() {
			if r, _ := lp.parse(b, line, 1); r != 0 {
				t.Fatal(r)
			}
		})
		if allocs != 0 {
			t.Errorf("ipv4 numbers %v: parse allocates %v times per IPv6 line", ipv4, allocs)
		}
	}
}
