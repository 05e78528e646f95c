package ingest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseLine feeds arbitrary lines to the parser of every documented field: it must never panic, must
// either add exactly one row or report a reason, a reported field position must be in range, and the
// result must be parseGeneral's alone (the fast path is only a shortcut).
func FuzzParseLine(f *testing.F) {
	f.Add([]byte("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"))
	f.Add([]byte("2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"))
	f.Add([]byte("2 1 e 2001:db8::1 ::ffff:1.2.3.4 1 2 3 4 5 6 7 REJECT SKIPDATA"))
	f.Add([]byte("\t\t  \r"))
	f.Add([]byte("2 123456789010 eni-1 1.2.3.4 fe80::1%eth0 1 2 3 4 5 6 7 ACCEPT OK"))
	f.Add([]byte("2 1 e 1.2.3.4 01.2.3.4 1 2 3 9223372036854775808 5 6 7 ACCEPT OK\r"))
	f.Add([]byte("2 1 e 1.2.3.4 1.2.3.4 1 2 3 99999999999999999999 5 6 7 ACCEPT OK"))
	f.Add([]byte("2 1 e 1.2.3.4 1.2.3.4 1 2 3 4 5 6 7 ACCEPT OK\n2 1 e 1.2.3.4 1.2.3.4 1 2 3 4 5 6 7 ACCEPT OK"))
	f.Add([]byte("2 1 e 1.2.3.4 1.2.3.4 2147483648 2 3 0000000000000000000001 5 6 7 - -"))
	var all Format
	for _, kf := range knownFields {
		all = append(all, kf.logName)
	}
	def := defaultFormat()
	f.Fuzz(func(t *testing.T, line []byte) {
		for k, format := range []Format{def, all, def, all} {
			ipv4 := k >= 2 // the address scan differs when the IPv4 numbers are kept
			out, l, lp := parserWith(format, ipv4)
			b := newBatch(nil, out, l, "fuzz", 4, 64, nil)
			reason, field := lp.parse(b, line, 1)
			if reason == 0 && b.rows != 1 || reason != 0 && b.rows != 0 {
				t.Fatalf("reason %v but %d rows", reason, b.rows)
			}
			if field >= len(format) {
				t.Fatalf("field %d out of range", field)
			}
			var got strings.Builder
			if reason == 0 {
				rec := b.record(nil)
				if rec.NumRows() != 1 {
					t.Fatalf("record has %d rows", rec.NumRows())
				}
				renderRows(&got, rec)
				rec.Release()
			}
			checkSameAsGeneral(t, format, ipv4, line, got.String(), reason, field, lp)
		}
	})
}

// FuzzHeader checks that header detection and LogFormat parsing never panic.
func FuzzHeader(f *testing.F) {
	f.Add("version account-id interface-id")
	f.Add("${version} ${vpc-id}")
	f.Fuzz(func(t *testing.T, s string) {
		f, ok, dup := parseHeader([]byte(s))
		if ok && (dup != "" || len(f) == 0) || !ok && f != nil {
			t.Fatalf("parseHeader(%q) = %q, %v, %q", s, f, ok, dup)
		}
		ParseLogFormat(s)
	})
}

func defaultFormat() Format {
	f, err := ParseLogFormat(DefaultLogFormat)
	if err != nil {
		panic(err)
	}
	return f
}

// parserFor builds the schema, layout and line parser of a single headerless input of format f.
func parserFor(f Format) (*outSchema, *layout, *lineParser) { return parserWith(f, true) }

// parserWith is parserFor with or without the IPv4 numbers (Options.IPv4Numbers); tests use them, so that
// both parsing paths are compared on them too.
func parserWith(f Format, ipv4 bool) (*outSchema, *layout, *lineParser) {
	sb := newSchemaBuilder()
	sb.add(f, "fuzz")
	out := sb.build(nil, ipv4)
	l := out.layoutFor(f, nil)
	return out, l, newLineParser(l)
}

// checkSameAsGeneral parses line again with parseGeneral alone and fails unless the reason, field, tallies
// and stored row are those parse gave (reason, field, lp's counts, and the row rendered as got).
func checkSameAsGeneral(t *testing.T, format Format, ipv4 bool, line []byte, got string, reason Reason, field int, lp *lineParser) {
	t.Helper()
	out, l, gp := parserWith(format, ipv4)
	g := newBatch(nil, out, l, "fuzz", 4, 64, nil)
	act, status, greason, gfield := gp.parseGeneral(g, line)
	if greason != reason || gfield != field {
		t.Fatalf("parse: %v at %d, parseGeneral: %v at %d", reason, field, greason, gfield)
	}
	if reason != 0 {
		return
	}
	g.lines[g.rows] = 1
	g.rows++
	gp.count(act, status)
	if gp.actions != lp.actions || gp.statuses != lp.statuses {
		t.Fatalf("tallies differ: actions %v, want %v; statuses %v, want %v", lp.actions, gp.actions, lp.statuses, gp.statuses)
	}
	var want strings.Builder
	rec := g.record(nil)
	renderRows(&want, rec)
	rec.Release()
	if diff := cmp.Diff(want.String(), got); diff != "" {
		t.Fatalf("parse and parseGeneral differ (-general +parse):\n%s", diff)
	}
}
