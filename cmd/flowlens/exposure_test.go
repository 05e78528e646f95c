package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/store"
)

// TestExposureAgrees is issue 10's "exposure before and after" as one measure: on the sample, recommend's
// exposure of its proposal (-o json, recommend_summary) and audit's exposure of the same proposal read back
// from the files recommend wrote (--policy, audit_summary) are the same figures, in total and per interface.
func TestExposureAgrees(t *testing.T) {
	tmp := t.TempDir()
	db := filepath.Join(tmp, "shop.duckdb")
	analyzeShop(t, db)
	out := filepath.Join(tmp, "rec")
	status, stdout, errOut := runCLI(t, "", "recommend", "--db", db, "--out", out, "-o", "json")
	type size struct{ V4, V6 float64 }
	var rec struct {
		Exposure struct {
			Interfaces []struct {
				ENI           string
				IngressBefore size `json:"ingress_before"`
				IngressAfter  size `json:"ingress_after"`
				EgressBefore  size `json:"egress_before"`
				EgressAfter   size `json:"egress_after"`
			}
			Before, After size
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rec); status != exitOK || err != nil {
		t.Fatalf("recommend: status %d, %v: %s", status, err, errOut)
	}
	status, stdout, errOut = runCLI(t, "", "audit", "--db", db, "--policy", out, "-o", "json", "--fail-on", "1000000")
	type measure struct {
		Ingress, Egress, Total float64
		TotalV6                float64 `json:"total_v6"`
		Interfaces             []struct {
			Interface       string
			Ingress, Egress float64
		}
	}
	var rep struct {
		Exposure struct{ Before, After measure }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); status != exitOK || err != nil {
		t.Fatalf("audit: status %d, %v: %s", status, err, errOut)
	}

	// per interface: ingress before, egress before, ingress after, egress after (IPv4)
	fromRecommend, fromAudit := map[string][4]float64{}, map[string][4]float64{}
	for _, x := range rec.Exposure.Interfaces {
		fromRecommend[x.ENI] = [4]float64{x.IngressBefore.V4, x.EgressBefore.V4, x.IngressAfter.V4, x.EgressAfter.V4}
	}
	for _, x := range rep.Exposure.Before.Interfaces {
		v := fromAudit[x.Interface]
		v[0], v[1] = x.Ingress, x.Egress
		fromAudit[x.Interface] = v
	}
	for _, x := range rep.Exposure.After.Interfaces {
		v := fromAudit[x.Interface]
		v[2], v[3] = x.Ingress, x.Egress
		fromAudit[x.Interface] = v
	}
	if len(fromAudit) == 0 {
		t.Fatal("audit reports no interface")
	}
	if diff := cmp.Diff(fromRecommend, fromAudit); diff != "" {
		t.Errorf("per-interface IPv4 exposure (-recommend +audit):\n%s", diff)
	}
	got := [4]float64{rec.Exposure.Before.V4, rec.Exposure.After.V4, rec.Exposure.Before.V6, rec.Exposure.After.V6}
	want := [4]float64{rep.Exposure.Before.Total, rep.Exposure.After.Total, rep.Exposure.Before.TotalV6, rep.Exposure.After.TotalV6}
	if got != want {
		t.Errorf("exposure before, after (IPv4), before, after (IPv6): recommend %v, audit %v", got, want)
	}

	// The stored tables, which pkg/report reads, agree too.
	d, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var rb, ra, ab, aa int64
	if err := d.SQL().QueryRow(`SELECT r.exposure_before_v4, r.exposure_after_v4, a.exposure_before, a.exposure_after
		FROM recommend_summary r, audit_summary a`).Scan(&rb, &ra, &ab, &aa); err != nil {
		t.Fatal(err)
	}
	if rb != ab || ra != aa || float64(rb) != rec.Exposure.Before.V4 {
		t.Errorf("recommend_summary %d -> %d, audit_summary %d -> %d, -o json %v -> %v", rb, ra, ab, aa,
			rec.Exposure.Before.V4, rec.Exposure.After.V4)
	}
}
