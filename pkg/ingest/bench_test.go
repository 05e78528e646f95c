package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// synthLines returns n realistic default-format records (about 110 bytes each, like real logs).
func synthLines(n int, seed int64) []byte {
	r := rand.New(rand.NewSource(seed))
	var b []byte
	t := int64(1763600000)
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			t++
		}
		b = append(b, "2 123456789012 eni-0a1b2c3d4e5f"...)
		b = strconv.AppendInt(b, int64(10000+r.Intn(1000)), 10)
		b = append(b, " 10.20."...)
		b = strconv.AppendInt(b, int64(r.Intn(5)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.Intn(250)), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.Intn(223)+1), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.Intn(255)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.Intn(255)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.Intn(255)), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(32768+r.Intn(28000)), 10)
		b = append(b, " 443 6 "...)
		b = strconv.AppendInt(b, int64(r.Intn(100)+1), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.Intn(100000)+40), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, t, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, t+60, 10)
		if r.Intn(10) == 0 {
			b = append(b, " REJECT OK\n"...)
		} else {
			b = append(b, " ACCEPT OK\n"...)
		}
	}
	return b
}

const benchHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"

// BenchmarkParseChunk measures one worker turning a 2 MiB chunk into an Arrow record.
func BenchmarkParseChunk(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchParseChunk(b, false) })
	b.Run("ipv4-numbers", func(b *testing.B) { benchParseChunk(b, true) }) // as analyze parses
}

func benchParseChunk(b *testing.B, ipv4 bool) {
	data := synthLines(20000, 1)
	out, l, lp := parserWith(defaultFormat(), ipv4)
	r := &Reader{out: out, opts: Options{MaxErrorsKept: 10}, pool: &bufPool{}}
	job := &fileJob{in: &input{path: "bench.log"}, layout: l}
	t := newTally()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := r.parseChunk(t, lp, job, chunk{data: data, firstLine: 1})
		rec.Release()
	}
	b.ReportMetric(float64(20000*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReader measures the whole pipeline on a file: read, split, parse in parallel, emit in order.
func BenchmarkReader(b *testing.B) {
	const n = 500_000
	benchFile(b, "flows.log", append([]byte(benchHeader), synthLines(n, 2)...), n)
}

// BenchmarkReaderGzip is BenchmarkReader on the same records gzip-compressed (one member, as S3 delivers
// them): what reading member by member (memberReader) costs on top of decompression.
func BenchmarkReaderGzip(b *testing.B) {
	const n = 500_000
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(append([]byte(benchHeader), synthLines(n, 2)...))
	zw.Close()
	benchFile(b, "flows.log.gz", buf.Bytes(), n)
}

// BenchmarkReaderCloudWatch measures the CloudWatch Logs shapes on the same records: an export task's lines
// and filter-log-events JSON.
func BenchmarkReaderCloudWatch(b *testing.B) {
	const n = 200_000
	lines := bytes.SplitAfter(synthLines(n, 2), []byte("\n"))
	lines = lines[:n]
	var export, js bytes.Buffer
	js.WriteString(`{"events": [`)
	for i, l := range lines {
		export.WriteString("2025-11-20T00:00:35.861Z ")
		export.Write(l)
		if i > 0 {
			js.WriteString(",")
		}
		fmt.Fprintf(&js, "\n  {\"logStreamName\": \"eni-0a1b2c3d4e5f6a7b8-all\", \"timestamp\": 1763596835861, \"message\": %q, \"ingestionTime\": 1763596840000, \"eventId\": \"37980000000000000000000000000000000000000176359680512301\"}", bytes.TrimSuffix(l, []byte("\n")))
	}
	js.WriteString("\n], \"searchedLogStreams\": []}\n")
	b.Run("export", func(b *testing.B) { benchFile(b, "export.txt", export.Bytes(), n) })
	b.Run("filter-log-events", func(b *testing.B) { benchFile(b, "events.json", js.Bytes(), n) })
}

// benchFile measures a Reader over data, written to a file named name, that holds n records.
func benchFile(b *testing.B, name string, data []byte, n int64) {
	path := filepath.Join(b.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd, err := NewReader(context.Background(), []string{path}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for rd.Next() {
		}
		if got := rd.Stats().Records; got != n {
			b.Fatalf("records = %d, want %d", got, n)
		}
		rd.Release()
	}
	b.ReportMetric(float64(n*int64(b.N))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkMemberReader compares decompressing a one-member gzip file with gzip.Reader (as ingest did before
// it read member by member) and with memberReader, which also counts newlines and tracks members.
func BenchmarkMemberReader(b *testing.B) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	text := synthLines(200_000, 2)
	zw.Write(text)
	zw.Close()
	out := make([]byte, 2<<20)
	read := func(b *testing.B, open func(r io.Reader) (io.Reader, error)) {
		b.SetBytes(int64(len(text)))
		for i := 0; i < b.N; i++ {
			r, err := open(bytes.NewReader(buf.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			for err == nil {
				_, err = fill(r, out)
			}
			if err != io.EOF {
				b.Fatal(err)
			}
		}
	}
	for i := 0; i < 3; i++ { // interleaved, so that both see the same load
		b.Run("gzip.Reader", func(b *testing.B) {
			read(b, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) })
		})
		b.Run("memberReader", func(b *testing.B) {
			read(b, func(r io.Reader) (io.Reader, error) { return newMemberReader(r, true) })
		})
	}
}
