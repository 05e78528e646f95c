package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// TestWriteInvalidUTF8: a string that is not valid UTF-8, in any kind of string column, or in the run's
// command line, never fails a write: its invalid bytes are stored as \xNN (issue 9 item 1).
func TestWriteInvalidUTF8(t *testing.T) {
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	for _, tc := range []struct {
		name   string
		typ    arrow.DataType
		values []string // "" is NULL
		want   []string // as stored, in order
	}{
		{"valid text is kept", arrow.BinaryTypes.String, []string{"héllo", "", "日本"}, []string{"héllo", "NULL", "日本"}},
		{"invalid byte", arrow.BinaryTypes.String, []string{"ok", "bad \xff line", ""}, []string{"ok", `bad \xff line`, "NULL"}},
		{"character cut between two values", arrow.BinaryTypes.String, []string{"caf\xc3", "\xa9s"}, []string{`caf\xc3`, `\xa9s`}},
		{"truncated sequence at the end", arrow.BinaryTypes.String, []string{"x", "\xe6\x97"}, []string{"x", `\xe6\x97`}},
		{"large string", arrow.BinaryTypes.LargeString, []string{"a\x80b", "c"}, []string{`a\x80b`, "c"}},
		{"dictionary", dictType, []string{"ACCEPT", "RE\xffJECT", "ACCEPT"}, []string{"ACCEPT", `RE\xffJECT`, "ACCEPT"}},
		{"file name, many rows", arrow.BinaryTypes.String, repeat("s3://logs/caf\xe9.log", 3000), repeat(`s3://logs/caf\xe9.log`, 3000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			sc := arrow.NewSchema([]arrow.Field{
				{Name: "n", Type: arrow.PrimitiveTypes.Int64},
				{Name: "s", Type: tc.typ, Nullable: true},
			}, nil)
			b := array.NewRecordBuilder(mem, sc)
			defer b.Release()
			for i, v := range tc.values {
				b.Field(0).(*array.Int64Builder).Append(int64(i))
				switch sb := b.Field(1).(type) {
				case *array.BinaryDictionaryBuilder:
					sb.AppendString(v)
				case *array.StringBuilder:
					if v == "" {
						sb.AppendNull()
					} else {
						sb.Append(v)
					}
				case *array.LargeStringBuilder:
					sb.Append(v)
				}
			}
			rec := b.NewRecord()
			// a slice, so that the values do not start at the buffer's start
			sliced := rec.NewSlice(0, rec.NumRows())
			rr, err := array.NewRecordReader(sc, []arrow.Record{sliced})
			rec.Release()
			sliced.Release()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "u.duckdb")
			err = WriteRun(context.Background(), path, Run{Command: "flowlens ingest caf\xe9.log"}, Table{Name: "t", Reader: rr})
			rr.Release()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range queryRows(t, openRO(t, path), `SELECT s FROM t ORDER BY n`) {
				got = append(got, row[0])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([][]string{{`flowlens ingest caf\xe9.log`}}, queryRows(t, openRO(t, path), `SELECT DISTINCT command FROM flowlens_runs`)); diff != "" {
				t.Errorf("flowlens_runs.command (-want +got):\n%s", diff)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestEscapeUTF8(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "é": "é", "\xff": `\xff`, "a\xc3": `a\xc3`, "\xed\xa0\x80": `\xed\xa0\x80`} {
		if got := EscapeUTF8(in); got != want {
			t.Errorf("EscapeUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}
