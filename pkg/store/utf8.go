package store

import (
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Invalid UTF-8.
//
// DuckDB refuses a VARCHAR value that is not valid UTF-8 ("Invalid unicode"), and with it the whole write. So
// every batch DuckDB reads is checked first: the string columns' value bytes with one utf8.Valid over each
// column's buffer, plus a look at the first byte of each value, so that a character cut between two values
// counts as invalid (cheap: the bytes are read once, at memory speed, and a batch of valid text is handed on
// as it is). A column that fails is rebuilt with every byte that is not part of a valid UTF-8 sequence
// written as \xNN, as pkg/ingest escapes bad lines and file names (a backslash in the input stays as it is, so
// "\xff" in stored text is either the escape or those four characters). Plain, large and view string columns
// and dictionaries of strings are checked; strings nested in lists or structs are not (flowlens writes none).

// utf8Record returns rec, or, when a string column of rec holds invalid UTF-8, a new record (owned by the
// caller) with those columns escaped.
func utf8Record(rec arrow.Record, mem memory.Allocator) (out arrow.Record, rebuilt bool) {
	var cols []arrow.Array
	for i, c := range rec.Columns() {
		fixed := escapeColumn(c, mem)
		if fixed == nil {
			continue
		}
		if cols == nil {
			cols = make([]arrow.Array, rec.NumCols())
			copy(cols, rec.Columns())
		}
		cols[i] = fixed
		defer fixed.Release()
	}
	if cols == nil {
		return rec, false
	}
	return array.NewRecord(rec.Schema(), cols, rec.NumRows()), true
}

// escapeColumn returns c with invalid UTF-8 escaped, or nil when c is valid (or not a string column).
func escapeColumn(c arrow.Array, mem memory.Allocator) arrow.Array {
	if c.Len() == 0 {
		return nil
	}
	switch c := c.(type) {
	case *array.String:
		if offsetsValid(c.ValueBytes(), c.ValueOffsets()) {
			return nil
		}
		b := array.NewStringBuilder(mem)
		defer b.Release()
		return rebuild(c, b, c.Value)
	case *array.LargeString:
		if offsetsValid(c.ValueBytes(), c.ValueOffsets()) {
			return nil
		}
		b := array.NewLargeStringBuilder(mem)
		defer b.Release()
		return rebuild(c, b, c.Value)
	case *array.StringView:
		if valuesValid(c, c.Value) {
			return nil
		}
		b := array.NewStringViewBuilder(mem)
		defer b.Release()
		return rebuild(c, b, c.Value)
	case *array.Dictionary:
		dict := escapeColumn(c.Dictionary(), mem)
		if dict == nil {
			return nil
		}
		defer dict.Release()
		return array.NewDictionaryArray(c.DataType(), c.Indices(), dict)
	}
	return nil
}

// offsetsValid reports whether each value of a string array is valid UTF-8: data is the values' bytes from
// the first value's start (offs[0]) to the last one's end, offs the values' offsets.
func offsetsValid[T int32 | int64](data []byte, offs []T) bool {
	if !utf8.Valid(data) {
		return false
	}
	// data is valid as a whole: a value is invalid only if it starts inside a character.
	base := offs[0]
	for _, o := range offs[1 : len(offs)-1] { // len(offs) is the array's length + 1 >= 2
		if i := int(o - base); i < len(data) && data[i]&0xC0 == 0x80 {
			return false
		}
	}
	return true
}

func valuesValid(c arrow.Array, value func(int) string) bool {
	for i := range c.Len() {
		if c.IsValid(i) && !utf8.ValidString(value(i)) {
			return false
		}
	}
	return true
}

func rebuild[B interface {
	array.Builder
	Append(string)
}](c arrow.Array, b B, value func(int) string) arrow.Array {
	b.Reserve(c.Len())
	for i := range c.Len() {
		if c.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(EscapeUTF8(value(i)))
		}
	}
	return b.NewArray()
}

// EscapeUTF8 returns s as valid UTF-8: each byte that is not part of a valid UTF-8 sequence is written as \xNN.
func EscapeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(s)+8)
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n <= 1 {
			out = append(out, '\\', 'x', hex[s[0]>>4], hex[s[0]&15])
		} else {
			out = append(out, s[:n]...)
		}
		s = s[n:]
	}
	return string(out)
}
