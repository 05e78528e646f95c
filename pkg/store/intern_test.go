package store

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/arrowutil"
)

// internInput is three records with plain strings (repeats, NULLs, the empty string, the same value in two
// columns, and a column of distinct values, which stays a string), an enumeration column, an integer key into a
// dimension and a dictionary-encoded column.
func internInput(mem memory.Allocator) array.RecordReader {
	dict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "srcaddr", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrowutil.EnumField("action", "ACCEPT", "REJECT"),
		{Name: "dim_id", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "file", Type: dict, Nullable: true},
		{Name: "dstaddr", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	str := func(i int, s string) {
		if s == "<null>" {
			b.Field(i).AppendNull()
		} else {
			b.Field(i).(*array.StringBuilder).Append(s)
		}
	}
	n := int64(0)
	add := func(src, action string, dim uint32, dst, note string) {
		n++
		str(0, src)
		b.Field(1).(*array.Int64Builder).Append(n)
		str(2, action)
		b.Field(3).(*array.Uint32Builder).Append(dim)
		b.Field(4).(*array.BinaryDictionaryBuilder).AppendString("f.log")
		str(5, dst)
		str(6, note)
	}
	var recs []arrow.Record
	add("10.0.0.1", "ACCEPT", 0, "10.0.0.2", "a")
	add("10.0.0.1", "REJECT", 1, "10.0.0.2", "b")
	add("<null>", "<null>", 1, "", "c")
	add("10.0.0.1", "ACCEPT", 1, "10.0.0.2", "d")
	recs = append(recs, b.NewRecord())
	add("10.0.0.1", "ACCEPT", 0, "<null>", "e")
	recs = append(recs, b.NewRecord())
	add("2001:db8::1", "ACCEPT", 1, "10.0.0.1", "f")
	add("<null>", "ACCEPT", 0, "<null>", "<null>")
	recs = append(recs, b.NewRecord())
	rdr, err := array.NewRecordReader(sc, recs)
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		r.Release()
	}
	return rdr
}

func dimTable(mem memory.Allocator) array.RecordReader {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "dim_id", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	b.Field(0).(*array.Uint32Builder).AppendValues([]uint32{0, 1}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"zero", "one"}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	rdr, _ := array.NewRecordReader(sc, []arrow.Record{rec})
	return rdr
}

// TestInternedRoundTrip: the view over the interned table, the strings table and a dimension gives back
// exactly the rows (NULLs and empty strings included) and columns of the input written as a plain table, with the
// dimension's columns in place of its key; only the plain string columns that repeat are interned.
func TestInternedRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "i.duckdb")
	ctx := context.Background()

	plain := internInput(mem)
	in := internInput(mem)
	it, err := InternStrings(in, mem)
	in.Release()
	if err != nil {
		t.Fatal(err)
	}
	var gotTypes []string
	for _, f := range it.Schema().Fields() {
		gotTypes = append(gotTypes, f.Name+" "+f.Type.String())
	}
	wantTypes := []string{"srcaddr_id uint32", "n int64", "action utf8", "dim_id uint32",
		"file dictionary<values=utf8, indices=int8, ordered=false>", "dstaddr_id uint32", "note utf8"}
	if d := cmp.Diff(wantTypes, gotTypes); d != "" {
		t.Errorf("interned schema (-want +got):\n%s", d)
	}
	strs := arrowutil.Lazy(StringsSchema, it.Strings)
	dim := dimTable(mem)
	err = WriteTables(ctx, path,
		Table{Name: "plain", Reader: plain},
		Table{Name: "recs", Reader: it},
		Table{Name: "strs", Reader: strs},
		Table{Name: "dim", Reader: dim},
		Table{Name: "v", Query: it.Query("recs", "strs", Dimension{Table: "dim", Key: "dim_id", Columns: []string{"label"}})})
	for _, r := range []array.RecordReader{plain, it, strs, dim} {
		r.Release()
	}
	if err != nil {
		t.Fatal(err)
	}
	db := openRO(t, path)
	defer db.Close()
	// every row of plain (with its dimension label) is in v and the other way round, duplicates counted
	q := `WITH p AS (SELECT srcaddr, n, action, file, dstaddr, note, label FROM plain JOIN dim USING (dim_id))
		SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM (SELECT * FROM p EXCEPT ALL SELECT * FROM v)),
			(SELECT count(*) FROM (SELECT * FROM v EXCEPT ALL SELECT * FROM p)),
			(SELECT count(*) FROM v WHERE srcaddr IS NULL), (SELECT count(*) FROM v WHERE dstaddr = ''),
			(SELECT string_agg(value, ',' ORDER BY string_id) FROM strs)`
	if d := cmp.Diff([][]string{{"7", "0", "0", "2", "1", "10.0.0.1,10.0.0.2,,2001:db8::1"}}, queryRows(t, db, q)); d != "" {
		t.Errorf("view against plain (-want +got):\n%s", d)
	}
	cols := queryRows(t, db, `SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_name = 'v'`)
	want := "srcaddr VARCHAR, n BIGINT, action ENUM('ACCEPT', 'REJECT'), file VARCHAR, dstaddr VARCHAR, note VARCHAR, label VARCHAR"
	if d := cmp.Diff([][]string{{want}}, cols); d != "" {
		t.Errorf("view columns (-want +got):\n%s", d)
	}
}

func TestInternedNameClash(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "srcaddr", Type: arrow.BinaryTypes.String},
		{Name: "srcaddr_id", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	rdr, _ := array.NewRecordReader(sc, nil)
	defer rdr.Release()
	if _, err := InternStrings(rdr, nil); err == nil {
		t.Error("InternStrings accepted an input with both srcaddr and srcaddr_id")
	}
}

// TestStringSet: ids are dense, stable across the table's growth and give back each string exactly (the empty
// string and strings that are prefixes of others included).
func TestStringSet(t *testing.T) {
	set := newStringSet()
	var want []string
	for i := 0; i < 50_000; i++ {
		s := strconv.Itoa(i)
		if i%1000 == 0 {
			s = strings.Repeat("x", i/1000) // "" first, then x, xx, ...
		}
		want = append(want, s)
	}
	ids := make(map[string]uint32)
	for round := 0; round < 2; round++ {
		for _, s := range want {
			id := set.id(s)
			if prev, ok := ids[s]; ok && prev != id {
				t.Fatalf("round %d: %q has id %d, earlier %d", round, s, id, prev)
			}
			ids[s] = id
		}
	}
	if set.len() != len(ids)+1 {
		t.Fatalf("%d ids for %d distinct strings (plus NULL's)", set.len(), len(ids))
	}
	for s, id := range ids {
		if id == NullStringID || set.value(id) != s {
			t.Fatalf("id %d: value %q, want %q", id, set.value(id), s)
		}
	}
}
