package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/vpc"
)

const basicTopology = "../../pkg/vpc/testdata/basic"

func runTopologyCmd(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	status = runMain(context.Background(), env, append([]string{"topology"}, args...))
	return status, out.String(), errb.String()
}

func TestTopologyTable(t *testing.T) {
	status, out, errOut := runTopologyCmd(t, "--topology", basicTopology)
	if status != exitOK {
		t.Fatalf("status %d, stderr %q", status, errOut)
	}
	for _, want := range []string{
		"VPCS (1)", "SUBNETS (3)", "NACLS (2)", "SECURITY GROUPS (4)", "ENIS (4)", "PREFIX LISTS (1)",
		"acl-0d0d0d0d0d0d0d0d0 (VPC default)",
		"10.20.0.10,10.20.0.11,10.20.0.12,2600:1f18:1234:5600::10",
		"FINDINGS (0 fatal, 2 warning)",
		"sgr-0a0000000000app02: group sg-0app00000000000b2 rule \"tcp 22 from sg-0gone0000000dead0\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTopologyJSON(t *testing.T) {
	status, out, errOut := runTopologyCmd(t, "--topology", filepath.Join(basicTopology, "subnets.json"),
		"--topology", filepath.Join(basicTopology, "network-acls.json"), "-o", "json")
	// Without describe-network-interfaces output the topology judges nothing: a fatal finding, still printed.
	if status != exitFindings {
		t.Fatalf("status %d, stderr %q; want %d (findings)", status, errOut, exitFindings)
	}
	var s vpc.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	type row struct{ ID, NACL string }
	var got []row
	for _, sn := range s.Subnets {
		got = append(got, row{sn.ID, sn.NACL})
	}
	want := []row{
		{"subnet-0aaa1111bbbb22220", "acl-0d0d0d0d0d0d0d0d0"},
		{"subnet-0aaa1111bbbb22221", "acl-0c0c0c0c0c0c0c0c0"},
		{"subnet-0aaa1111bbbb22222", "acl-0d0d0d0d0d0d0d0d0"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("subnets (-got +want):\n%s", diff)
	}
	if s.Fatal != 1 || s.Warnings != 1 || len(s.ENIs) != 0 || !strings.Contains(s.Findings[0].Message, "describe-network-interfaces") {
		t.Errorf("fatal %d warnings %d ENIs %d findings %v; want 1 (no interfaces), 1 (shadowed entry), 0", s.Fatal, s.Warnings,
			len(s.ENIs), s.Findings)
	}
}

func TestTopologyFatal(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("broken.json", `{"Subnets": [`)
	write("enis.json", `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-gone", "PrivateIpAddress": "10.0.0.1"}]}`)
	status, out, errOut := runTopologyCmd(t, "--topology", dir)
	if status != exitFindings {
		t.Errorf("status %d, want %d (findings)", status, exitFindings)
	}
	for _, want := range []string{"FINDINGS (2 fatal, 0 warning)", "broken.json: -: invalid JSON", "enis.json: eni-1: ENI is in subnet \"subnet-gone\""} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "2 fatal topology finding(s)") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestTopologyUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"no --topology", nil, exitUsage, "--topology is required"},
		{"bad output format", []string{"--topology", basicTopology, "-o", "xml"}, exitUsage, "-o must be table or json"},
		{"positional argument", []string{"--topology", basicTopology, "extra"}, exitUsage, "unexpected argument"},
		{"unknown flag", []string{"--nope"}, exitUsage, "unknown flag"},
		{"missing path", []string{"--topology", filepath.Join(t.TempDir(), "missing")}, exitError, "no such file"},
		{"help", []string{"--help"}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, errOut := runTopologyCmd(t, tt.args...)
			if status != tt.status || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("status %d stderr %q; want %d and %q", status, errOut, tt.status, tt.stderr)
			}
		})
	}
}
