package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/store"
)

// TestInterrupted: a Ctrl-C (the context cancelled) says what is true of the database and exits with a status
// that tells the cases apart: before the write, the database was not changed (130); just after the commit,
// it is complete (4), or, when nothing was left to do, the run succeeds (issue 9 item 11).
func TestInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cmd         []string // before --db DB and the flow logs
		existing    bool     // the database exists before the run
		afterCommit bool     // cancel just after the commit, else before the run
		wantStatus  int
		wantStderr  string // DB stands for the database's path
		wantFlows   bool   // the database holds the run's flows afterwards
	}{
		{"analyze, before the write", []string{"analyze", "--topology", shop + "topology"}, false, false,
			exitInterrupted, "flowlens analyze: interrupted\n", false},
		{"analyze, after the commit", []string{"analyze", "--topology", shop + "topology"}, false, true,
			exitInterruptedWritten, "flowlens analyze: interrupted after the database was written: DB is complete\n", true},
		{"analyze into an existing file, after the commit", []string{"analyze", "--topology", shop + "topology"}, true, true,
			exitInterruptedWritten, "flowlens analyze: interrupted after the database was written: DB is complete\n", true},
		{"ingest, before the write", []string{"ingest"}, false, false,
			exitInterrupted, "flowlens ingest: interrupted\n", false},
		{"ingest, after the commit: nothing left to do", []string{"ingest"}, false, true, exitOK, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "flows.duckdb")
			if tc.existing {
				if status, _, errOut := runCLI(t, "", "ingest", "--db", db, ingestTestdata+"examples.log"); status != exitOK {
					t.Fatalf("first ingest: %d %s", status, errOut)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errb bytes.Buffer
			env := &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
			if tc.afterCommit {
				env.onCommit = cancel
			} else {
				cancel()
			}
			args := append(append(tc.cmd, "--db", db), shop+"flowlogs")
			status := runMain(ctx, env, args)
			if want := strings.ReplaceAll(tc.wantStderr, "DB", db); status != tc.wantStatus || errb.String() != want {
				t.Errorf("status %d, stderr %q; want %d, %q", status, errb.String(), tc.wantStatus, want)
			}
			if !tc.wantFlows {
				if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("database after an interrupted run: stat error %v, want none there", err)
				}
				return
			}
			d, err := store.OpenReadOnly(db)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var n int
			// the shop's flow logs have many more records than examples.log
			if err := d.SQL().QueryRow(`SELECT count(*) FROM flows WHERE source_file LIKE '%shop%'`).Scan(&n); err != nil || n == 0 {
				t.Errorf("flows of the run: %d, %v", n, err)
			}
		})
	}
}

// TestExitStatus: how an error becomes a message and an exit status, interrupted or not.
func TestExitStatus(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	notWritten := errors.Join(store.ErrNotWritten, context.Canceled) // as store wraps it, message aside
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		err        error
		wantStatus int
		wantStderr string
	}{
		{"success", live, nil, exitOK, ""},
		{"error", live, errors.New("boom"), exitError, "flowlens x: boom\n"},
		{"written, then an error", live, &store.WrittenError{Path: "f.duckdb", Err: errors.New("boom")}, exitError,
			"flowlens x: f.duckdb was written and is complete, but then: boom\n"},
		{"usage", live, usageErrorf("bad"), exitUsage, "flowlens x: bad\n"},
		{"interrupted before the write", done, context.Canceled, exitInterrupted, "flowlens x: interrupted\n"},
		{"interrupted during the write", done, notWritten, exitInterrupted, "flowlens x: interrupted; the database was not changed\n"},
		{"interrupted after the commit", done, &store.WrittenError{Path: "f.duckdb", Err: context.Canceled}, exitInterruptedWritten,
			"flowlens x: interrupted after the database was written: f.duckdb is complete\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errb bytes.Buffer
			status := exitStatus(tc.ctx, &cmdEnv{stderr: &errb}, "x", tc.err)
			if status != tc.wantStatus || errb.String() != tc.wantStderr {
				t.Errorf("status %d, stderr %q; want %d, %q", status, errb.String(), tc.wantStatus, tc.wantStderr)
			}
		})
	}
}
