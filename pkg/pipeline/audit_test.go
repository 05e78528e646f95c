package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

func TestAuditScratch(t *testing.T) {
	model, err := vpc.LoadPaths(shop + "topology")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "shop.duckdb")
	if _, err := Analyze(ctx, AnalyzeConfig{Model: model, Paths: []string{shop + "flowlogs"}, DB: db, Run: store.Run{Command: "test"}}); err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(dir, "policy")
	os.MkdirAll(pol, 0o755)
	for _, f := range []string{"security-groups.json", "network-acls.json"} {
		b, _ := os.ReadFile(shop + "topology/" + f)
		os.WriteFile(filepath.Join(pol, f), b, 0o644)
	}
	rep, err := Audit(ctx, AuditConfig{DB: db, Policy: []string{pol}})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("%s", js)
}
