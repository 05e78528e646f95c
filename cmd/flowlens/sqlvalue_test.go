package main

import (
	"math"
	"math/big"
	"testing"
	"time"

	duckdb "github.com/marcboeker/go-duckdb"
)

// TestSQLValues: the text and JSON of values the golden files do not show, from the Go values go-duckdb scans
// and the type names it gives.
func TestSQLValues(t *testing.T) {
	for _, tc := range []struct {
		name, typ  string
		v          any
		text, json string
	}{
		{"interval", "INTERVAL", duckdb.Interval{Months: 14, Days: 3, Micros: 3_723_500_000}, "1 year 2 months 3 days 01:02:03.5", `"1 year 2 months 3 days 01:02:03.5"`},
		{"zero interval", "INTERVAL", duckdb.Interval{}, "00:00:00", `"00:00:00"`},
		{"uuid", "UUID", []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7}, "12345678-9abc-def0-0001-020304050607", `"12345678-9abc-def0-0001-020304050607"`},
		{"blob", "BLOB", []byte("a\x00\\"), `a\x00\x5C`, `"a\\x00\\x5C"`},
		{"negative decimal", "DECIMAL(6,3)", duckdb.Decimal{Width: 6, Scale: 3, Value: big.NewInt(-5)}, "-0.005", "-0.005"},
		{"hugeint", "HUGEINT", new(big.Int).Lsh(big.NewInt(1), 70), "1180591620717411303424", "1180591620717411303424"},
		{"nan", "DOUBLE", math.NaN(), "nan", `"nan"`},
		{"tiny float", "DOUBLE", 1e-7, "0.0000001", "0.0000001"},
		{"time", "TIME", time.Date(1, 1, 1, 13, 4, 5, 250_000_000, time.UTC), "13:04:05.25", `"13:04:05.25"`},
		{"timestamptz", "TIMESTAMPTZ", time.Date(2026, 11, 20, 0, 1, 9, 0, time.FixedZone("x", 3600)), "2026-11-19T23:01:09Z", `"2026-11-19T23:01:09Z"`},
		{"struct field order from the type", `STRUCT("z" INTEGER, "a b" VARCHAR)`, map[string]any{"a b": "x", "z": int32(1)},
			"{'z': 1, 'a b': x}", `{"z":1,"a b":"x"}`},
		{"list of structs with timestamps", `STRUCT("t" TIMESTAMP)[]`, []any{map[string]any{"t": time.Unix(0, 0)}, nil},
			"[{'t': 1970-01-01T00:00:00Z}, NULL]", `[{"t":"1970-01-01T00:00:00Z"},null]`},
		{"map", "MAP(VARCHAR, INTEGER)", duckdb.Map{"b": int32(2), "a": int32(1)}, "{a=1, b=2}", `{"a":1,"b":2}`},
		{"unparsed type", "STRUCT(", map[string]any{"b": 1, "a": 2}, "{'a': 2, 'b': 1}", `{"a":2,"b":1}`},
		{"html stays", "VARCHAR", "<a&b>", "<a&b>", `"<a&b>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ := parseSQLType(tc.typ)
			if got := string(appendText(nil, tc.v, typ)); got != tc.text {
				t.Errorf("text %q, want %q", got, tc.text)
			}
			if got := string(appendJSON(nil, tc.v, typ)); got != tc.json {
				t.Errorf("json %s, want %s", got, tc.json)
			}
		})
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		s     string
		width int
		want  string
	}{
		{"abcdef", 0, "abcdef"}, {"abcdef", 6, "abcdef"}, {"abcdef", 4, "abc…"}, {"äöüß", 3, "äö…"}, {"ab", 1, "…"},
	} {
		if got := cut(tc.s, tc.width); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
	}
}
