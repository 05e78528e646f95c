package ingest

import (
	"testing"
)

// FuzzParseLine feeds arbitrary lines to the parser of every documented field: it must never panic, must
// either add exactly one row or report a reason, and a reported field position must be in range.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"))
	f.Add([]byte("2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"))
	f.Add([]byte("2 1 e 2001:db8::1 ::ffff:1.2.3.4 1 2 3 4 5 6 7 REJECT SKIPDATA"))
	f.Add([]byte("\t\t  \r"))
	f.Add([]byte("2 123456789010 eni-1 1.2.3.4 fe80::1%eth0 1 2 3 4 5 6 7 ACCEPT OK"))
	var all Format
	for _, kf := range knownFields {
		all = append(all, kf.logName)
	}
	def := defaultFormat()
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, format := range []Format{def, all} {
			out, l, lp := parserFor(format)
			b := newBatch(out, l, "fuzz", 4, 64, nil)
			reason, field := lp.parse(b, line, 1)
			if reason == 0 && b.rows != 1 || reason != 0 && b.rows != 0 {
				t.Fatalf("reason %v but %d rows", reason, b.rows)
			}
			if field >= len(format) {
				t.Fatalf("field %d out of range", field)
			}
			if reason == 0 {
				rec := b.record(nil)
				if rec.NumRows() != 1 {
					t.Fatalf("record has %d rows", rec.NumRows())
				}
				rec.Release()
			}
		}
	})
}

// FuzzHeader checks that header detection and LogFormat parsing never panic.
func FuzzHeader(f *testing.F) {
	f.Add("version account-id interface-id")
	f.Add("${version} ${vpc-id}")
	f.Fuzz(func(t *testing.T, s string) {
		parseHeader([]byte(s))
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
func parserFor(f Format) (*outSchema, *layout, *lineParser) {
	sb := newSchemaBuilder()
	sb.add(f)
	out := sb.build(nil)
	l := out.layoutFor(f, nil)
	return out, l, newLineParser(l)
}
