package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// killedRows is how many rows each write of TestKilledWrites stores: two row groups, a few MB.
const killedRows = 150_000

// killChildEnv names the file a child of TestKilledWrites writes to.
const killChildEnv = "FLOWLENS_STORE_KILL_CHILD"

// hangingReader yields the batches of src, creates marker once they are all out, and then blocks: the write
// it feeds never commits. It stands for a run killed at the worst moment, all its rows in DuckDB.
type hangingReader struct {
	array.RecordReader
	marker string
	once   sync.Once
}

func (r *hangingReader) Next() bool {
	if r.RecordReader.Next() {
		return true
	}
	r.once.Do(func() { os.WriteFile(r.marker, nil, 0o644) })
	select {}
}

// TestKilledWriteChild is the child process of TestKilledWrites: it writes killedRows rows to the file named by
// $FLOWLENS_STORE_KILL_CHILD and hangs before the commit, to be killed with SIGKILL.
func TestKilledWriteChild(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("only run by TestKilledWrites")
	}
	recs := flowGen{dict: true, extra: 4, rowsPerFile: 10_000}.records(memory.NewGoAllocator(), killedRows, 64<<10)
	r := &hangingReader{RecordReader: sliceReader(recs), marker: path + ".child-ready"}
	WriteRun(context.Background(), path, Run{Command: "child"}, Table{Name: "flows", Reader: r})
	t.Fatal("the write returned")
}

// killedWrite runs TestKilledWriteChild on path and kills it (SIGKILL) once all its rows are in DuckDB.
func killedWrite(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriteChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	marker := path + ".child-ready"
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if cmd.ProcessState != nil {
			t.Fatalf("child exited: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	os.Remove(marker)
}

// TestKilledWrites: runs killed with SIGKILL in the middle of a write leave no files that a later run does
// not remove (saying so), and a file written again and again, with or without killed runs between the
// writes, does not grow: it stays within 2.5 times the size of one write (issue 9 item 12). A replace needs
// room for the old and the new tables at once (the old blocks are freed at the checkpoint after the commit,
// and reused by the next write), so a rewritten file settles at up to about twice the size of a fresh one:
// 1.9x here, 2.0x for 2M ingested records, 1.9x for analyze of samples/shop (bench/RESULTS.md).
func TestKilledWrites(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	if testing.Short() {
		t.Skip("about 30 writes of 150K rows")
	}
	recs := flowGen{dict: true, extra: 4, rowsPerFile: 10_000}.records(memory.NewGoAllocator(), killedRows, 64<<10)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, tc := range []struct {
		name    string
		runs    int
		kill    bool // a killed run before each write but the first
		newFile bool // the file is removed before each killed run (and the first write): it was creating it
	}{
		{"rewrites", 10, false, false},
		{"killed while replacing", 10, true, false},
		{"killed while creating", 3, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "flows.duckdb")
			var first, largest int64
			for i := range tc.runs {
				if tc.kill && (i > 0 || tc.newFile) {
					if tc.newFile {
						os.Remove(path)
					}
					killedWrite(t, path)
				}
				var logged []string
				r := sliceReader(recs)
				err := WriteRun(context.Background(), path, Run{Command: "test", Log: func(msg string) { logged = append(logged, msg) }},
					Table{Name: "flows", Reader: r})
				r.Release()
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if got := dirEntries(t, dir); len(got) != 1 || got[0] != "flows.duckdb" {
					t.Fatalf("run %d: files in dir %q, want only flows.duckdb", i, got)
				}
				if tc.newFile && !strings.Contains(strings.Join(logged, "\n"), "removed") {
					t.Errorf("run %d: the write did not say it removed the killed run's files: %q", i, logged)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = fi.Size()
				}
				largest = max(largest, fi.Size())
				t.Logf("run %d: %d bytes %q", i, fi.Size(), logged)
			}
			if largest > first*5/2 {
				t.Errorf("the file grew to %d bytes, more than 2.5 times its first size %d", largest, first)
			}
		})
	}
}
