package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/marcboeker/go-duckdb"
)

// How flowlens sql prints DuckDB values: the Go values go-duckdb scans (database/sql) as text for the table,
// markdown and CSV outputs, and as JSON. The column's DuckDB type (sqlType, parsed from go-duckdb's type
// name) says what the Go value alone does not: a time.Time is a DATE, a TIME or a TIMESTAMP; a []byte is a
// BLOB or a UUID; a STRUCT's fields have an order that the map go-duckdb returns has lost.

// sqlType is a DuckDB type as go-duckdb names a result column's (ColumnTypeDatabaseTypeName): a base name
// (BIGINT, DECIMAL(18,3), TIMESTAMP, ...), a list of elem, a STRUCT of fields, or a MAP of key to value.
type sqlType struct {
	name       string // upper case; "LIST", "STRUCT" and "MAP" for the nested kinds
	elem       *sqlType
	fields     []sqlField
	key, value *sqlType
}

type sqlField struct {
	name string
	typ  *sqlType
}

// parseSQLType parses a go-duckdb type name: T, T[], STRUCT("a" T, ...), MAP(K, V), nested. Whatever it
// cannot parse is a base type of that name, formatted by its Go value alone (a struct's fields then in name
// order).
func parseSQLType(s string) *sqlType {
	t, rest, ok := parseTypeAt(s)
	if !ok || rest != "" {
		return &sqlType{name: s}
	}
	return t
}

func parseTypeAt(s string) (t *sqlType, rest string, ok bool) {
	switch {
	case strings.HasPrefix(s, "STRUCT("):
		t = &sqlType{name: "STRUCT"}
		s = s[len("STRUCT("):]
		for !strings.HasPrefix(s, ")") {
			var name string
			if name, s, ok = parseFieldName(s); !ok || !strings.HasPrefix(s, " ") {
				return nil, "", false
			}
			var ft *sqlType
			if ft, s, ok = parseTypeAt(s[1:]); !ok {
				return nil, "", false
			}
			t.fields = append(t.fields, sqlField{name, ft})
			s = strings.TrimPrefix(s, ", ")
		}
		s = s[1:]
	case strings.HasPrefix(s, "MAP("):
		t = &sqlType{name: "MAP"}
		if t.key, s, ok = parseTypeAt(s[len("MAP("):]); !ok || !strings.HasPrefix(s, ", ") {
			return nil, "", false
		}
		if t.value, s, ok = parseTypeAt(s[2:]); !ok || !strings.HasPrefix(s, ")") {
			return nil, "", false
		}
		s = s[1:]
	default:
		end := strings.IndexAny(s, "[,)( ")
		if end < 0 {
			end = len(s)
		}
		if end < len(s) && s[end] == '(' { // DECIMAL(18,3)
			close := strings.IndexByte(s, ')')
			if close < 0 {
				return nil, "", false
			}
			end = close + 1
		}
		if end == 0 {
			return nil, "", false
		}
		t, s = &sqlType{name: s[:end]}, s[end:]
	}
	for strings.HasPrefix(s, "[") {
		close := strings.IndexByte(s, ']')
		if close < 0 {
			return nil, "", false
		}
		t, s = &sqlType{name: "LIST", elem: t}, s[close+1:]
	}
	return t, s, true
}

// parseFieldName reads a STRUCT field name: "quoted" (with "" for a quote), as go-duckdb writes them.
func parseFieldName(s string) (name, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '"' {
			if i+1 < len(s) && s[i+1] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			return b.String(), s[i+1:], true
		}
		b.WriteByte(s[i])
	}
	return "", "", false
}

// numeric reports whether a column of this type holds numbers (right-aligned in tables).
func (t *sqlType) numeric() bool {
	switch {
	case t == nil:
		return false
	case strings.HasPrefix(t.name, "DECIMAL"):
		return true
	}
	switch t.name {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
		"UHUGEINT", "FLOAT", "DOUBLE":
		return true
	}
	return false
}

func (t *sqlType) fieldOrder(m map[string]any) []sqlField {
	if t != nil && t.name == "STRUCT" && len(t.fields) == len(m) {
		return t.fields
	}
	fields := make([]sqlField, 0, len(m))
	for _, k := range slices.Sorted(mapKeys(m)) {
		fields = append(fields, sqlField{name: k})
	}
	return fields
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// appendText appends v (not NULL at the top level) as text: numbers in full (never in exponent notation),
// times as RFC 3339 (DATE 2006-01-02, TIME 15:04:05), lists [a, b], structs {'name': value, ...} and maps
// {key=value, ...} as DuckDB prints them, NULL inside them as NULL.
func appendText(b []byte, v any, t *sqlType) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "NULL"...)
	case string:
		return append(b, v...)
	case bool:
		return strconv.AppendBool(b, v)
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, uint:
		return fmt.Append(b, v)
	case float32:
		return appendFloat(b, float64(v), 32)
	case float64:
		return appendFloat(b, v, 64)
	case *big.Int:
		return v.Append(b, 10)
	case duckdb.Decimal:
		return appendDecimal(b, v)
	case time.Time:
		return appendTime(b, v, t)
	case duckdb.Interval:
		return appendInterval(b, v)
	case []byte:
		if t != nil && t.name == "UUID" && len(v) == 16 {
			return appendUUID(b, v)
		}
		return appendBlob(b, v)
	case []any, map[string]any, duckdb.Map:
		return appendNested(b, v, t, &textStyle)
	default:
		return fmt.Append(b, v)
	}
}

// nestedStyle is how appendNested writes a list, a struct or a map: as text or as JSON.
type nestedStyle struct {
	sep   string                                   // between elements
	field func(b []byte, name string) []byte       // a struct field's name, up to its value
	key   func(b []byte, key string) []byte        // a map key (as text), up to its value
	value func(b []byte, v any, t *sqlType) []byte // an element
}

var (
	textStyle = nestedStyle{sep: ", ",
		field: func(b []byte, name string) []byte { return append(append(append(b, '\''), name...), "': "...) },
		key:   func(b []byte, key string) []byte { return append(append(b, key...), '=') },
	}
	jsonStyle = nestedStyle{sep: ",",
		field: func(b []byte, name string) []byte { return append(appendJSONString(b, name), ':') },
		key:   func(b []byte, key string) []byte { return append(appendJSONString(b, key), ':') },
	}
)

func init() { textStyle.value, jsonStyle.value = appendText, appendJSON } // they call appendNested

// appendNested writes a LIST ([a, b]), a STRUCT (fields in the type's order) or a MAP (entries in key order).
func appendNested(b []byte, v any, t *sqlType, s *nestedStyle) []byte {
	switch v := v.(type) {
	case []any:
		var elem *sqlType
		if t != nil {
			elem = t.elem
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, s.sep...)
			}
			b = s.value(b, e, elem)
		}
		return append(b, ']')
	case map[string]any:
		b = append(b, '{')
		for i, f := range t.fieldOrder(v) {
			if i > 0 {
				b = append(b, s.sep...)
			}
			b = s.value(s.field(b, f.name), v[f.name], f.typ)
		}
		return append(b, '}')
	case duckdb.Map:
		b = append(b, '{')
		for i, kv := range sortedMap(v, t) {
			if i > 0 {
				b = append(b, s.sep...)
			}
			b = s.value(s.key(b, kv.key), kv.value, kv.valueType)
		}
		return append(b, '}')
	}
	return b
}

type mapEntry struct {
	key       string
	value     any
	valueType *sqlType
}

// sortedMap returns a MAP's entries with their keys as text, in key order (go-duckdb returns a Go map, whose
// order is random).
func sortedMap(m duckdb.Map, t *sqlType) []mapEntry {
	var kt, vt *sqlType
	if t != nil {
		kt, vt = t.key, t.value
	}
	out := make([]mapEntry, 0, len(m))
	for k, v := range m {
		out = append(out, mapEntry{string(appendText(nil, k, kt)), v, vt})
	}
	slices.SortFunc(out, func(a, b mapEntry) int { return strings.Compare(a.key, b.key) })
	return out
}

func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, bits)
}

// appendDecimal writes a DECIMAL exactly: its digits with the point Scale places from the right.
func appendDecimal(b []byte, d duckdb.Decimal) []byte {
	if d.Value == nil {
		return append(b, '0')
	}
	digits := new(big.Int).Abs(d.Value).String()
	if d.Value.Sign() < 0 {
		b = append(b, '-')
	}
	scale := int(d.Scale)
	if scale == 0 {
		return append(b, digits...)
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	b = append(b, digits[:len(digits)-scale]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-scale:]...)
}

func appendTime(b []byte, v time.Time, t *sqlType) []byte {
	name := ""
	if t != nil {
		name = t.name
	}
	switch name {
	case "DATE":
		return v.UTC().AppendFormat(b, time.DateOnly)
	case "TIME":
		return v.UTC().AppendFormat(b, "15:04:05.999999")
	}
	return v.UTC().AppendFormat(b, time.RFC3339Nano)
}

// appendInterval writes an INTERVAL as DuckDB does: "1 year 2 months 3 days 04:05:06.5".
func appendInterval(b []byte, iv duckdb.Interval) []byte {
	var parts []string
	unit := func(n int64, name string) {
		if n == 0 {
			return
		}
		s := fmt.Sprintf("%d %s", n, name)
		if n != 1 && n != -1 {
			s += "s"
		}
		parts = append(parts, s)
	}
	unit(int64(iv.Months/12), "year")
	unit(int64(iv.Months%12), "month")
	unit(int64(iv.Days), "day")
	if us := iv.Micros; us != 0 || len(parts) == 0 {
		sign := ""
		if us < 0 {
			sign, us = "-", -us
		}
		s := fmt.Sprintf("%s%02d:%02d:%02d", sign, us/3_600_000_000, us/60_000_000%60, us/1_000_000%60)
		if frac := us % 1_000_000; frac != 0 {
			s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, s)
	}
	return append(b, strings.Join(parts, " ")...)
}

func appendUUID(b []byte, u []byte) []byte {
	h := hex.EncodeToString(u)
	return append(b, h[0:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:32]...)
}

// appendBlob writes printable ASCII as it is and any other byte (a backslash too) as \xNN, as DuckDB prints
// a BLOB.
func appendBlob(b []byte, v []byte) []byte {
	for _, c := range v {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			b = append(b, c)
		} else {
			b = fmt.Appendf(b, `\x%02X`, c)
		}
	}
	return b
}

// appendJSON appends v as JSON: numbers as numbers (in full), NULL as null, lists as arrays, structs as
// objects in field order, maps as objects keyed by the key's text, NaN and infinities as the strings "nan",
// "inf", "-inf", everything else as the text appendText writes.
func appendJSON(b []byte, v any, t *sqlType) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, uint, *big.Int, duckdb.Decimal:
		return appendText(b, v, t)
	case float32, float64:
		f := reflectFloat(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(b, string(appendText(nil, v, t)))
		}
		return appendText(b, v, t)
	case []any, map[string]any, duckdb.Map:
		return appendNested(b, v, t, &jsonStyle)
	default:
		return appendJSONString(b, string(appendText(nil, v, t)))
	}
}

func reflectFloat(v any) float64 {
	if f, ok := v.(float32); ok {
		return float64(f)
	}
	return v.(float64)
}

// appendJSONString appends s as a JSON string, without the HTML escapes of encoding/json's default.
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}
