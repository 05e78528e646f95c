package vpc

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(got), string(want)); diff != "" {
		t.Errorf("%s (-got +want; go test -update to accept):\n%s", path, diff)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := basicModel(t).WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "basic.table", b.Bytes())
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	m := basicModel(t)
	if err := m.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "basic.summary.json", b.Bytes())
	var s Summary
	if err := json.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, m.Summary()); diff != "" {
		t.Errorf("JSON round trip (-got +want):\n%s", diff)
	}
}
