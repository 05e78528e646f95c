package store

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// flowGen builds realistic VPC flow record batches (docs/flows-schema.md: v2 columns + source_file/source_line).
type flowGen struct {
	// dict makes the low-cardinality string columns (account_id, interface_id, action, log_status, source_file and
	// the extra verdict columns) Arrow dictionaries instead of plain Utf8.
	dict bool
	// extra adds that many string columns (like the replay verdict columns), each with a few distinct values.
	extra int
	// rowsPerFile is how many rows share one source_file value.
	rowsPerFile int
}

func (g flowGen) schema() *arrow.Schema {
	str := arrow.DataType(arrow.BinaryTypes.String)
	low := str
	if g.dict {
		low = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	}
	i32, i64 := arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64
	f := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	fields := []arrow.Field{
		f("version", i32), f("account_id", low), f("interface_id", low), f("srcaddr", str), f("dstaddr", str),
		f("srcport", i32), f("dstport", i32), f("protocol", i32), f("packets", i64), f("bytes", i64),
		f("start", i64), f("end", i64), f("action", low), f("log_status", low),
	}
	for i := range g.extra {
		fields = append(fields, f(fmt.Sprintf("verdict_%d", i), low))
	}
	fields = append(fields, f("source_file", low), f("source_line", i64))
	return arrow.NewSchema(fields, nil)
}

// appendStr appends s to a Utf8 or dictionary builder.
func appendStr(b array.Builder, s string) {
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(s)
	case *array.BinaryDictionaryBuilder:
		if err := b.AppendString(s); err != nil {
			panic(err)
		}
	default:
		panic(fmt.Sprintf("appendStr: %T", b))
	}
}

// records returns rows rows in batches of batch rows; the caller releases them.
func (g flowGen) records(mem memory.Allocator, rows, batch int) []arrow.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	sc := g.schema()
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	enis := make([]string, 1000)
	for i := range enis {
		enis[i] = fmt.Sprintf("eni-%017x", rng.Uint64()>>4)
	}
	ip := func(buf []byte) []byte {
		v := rng.Uint32()
		for i := 3; i >= 0; i-- {
			buf = strconv.AppendUint(buf, uint64(byte(v>>(8*i))), 10)
			if i > 0 {
				buf = append(buf, '.')
			}
		}
		return buf
	}
	verdicts := []string{"ALLOW", "DENY_NACL", "DENY_SG", "UNDECIDED"}
	var recs []arrow.Record
	var buf []byte
	file := ""
	for r := 0; r < rows; r++ {
		if g.rowsPerFile == 0 || r%g.rowsPerFile == 0 {
			file = fmt.Sprintf("s3://logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/file-%06d.log.gz", r/max(g.rowsPerFile, 1))
		}
		c := 0
		next := func() array.Builder { c++; return b.Field(c - 1) }
		next().(*array.Int32Builder).Append(2)
		appendStr(next(), "123456789012")
		appendStr(next(), enis[rng.IntN(len(enis))])
		buf = ip(buf[:0])
		next().(*array.StringBuilder).BinaryBuilder.Append(buf)
		buf = ip(buf[:0])
		next().(*array.StringBuilder).BinaryBuilder.Append(buf)
		next().(*array.Int32Builder).Append(int32(rng.IntN(65536)))
		next().(*array.Int32Builder).Append(int32(rng.IntN(65536)))
		next().(*array.Int32Builder).Append([]int32{6, 17, 1}[rng.IntN(3)])
		next().(*array.Int64Builder).Append(int64(rng.IntN(1000)))
		next().(*array.Int64Builder).Append(int64(rng.IntN(1 << 20)))
		start := int64(1714521600 + r/1000)
		next().(*array.Int64Builder).Append(start)
		next().(*array.Int64Builder).Append(start + 60)
		if rng.IntN(10) == 0 {
			appendStr(next(), "REJECT")
		} else {
			appendStr(next(), "ACCEPT")
		}
		appendStr(next(), "OK")
		for range g.extra {
			appendStr(next(), verdicts[rng.IntN(len(verdicts))])
		}
		appendStr(next(), file)
		next().(*array.Int64Builder).Append(int64(r%max(g.rowsPerFile, 1) + 2))
		if (r+1)%batch == 0 || r == rows-1 {
			recs = append(recs, b.NewRecord())
		}
	}
	return recs
}

// sliceReader returns a reader over recs; it retains them, the caller releases the reader.
func sliceReader(recs []arrow.Record) array.RecordReader {
	rdr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		panic(err)
	}
	return rdr
}
