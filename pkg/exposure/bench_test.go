package exposure

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// BenchmarkModel measures a whole model: the sample topology, and the generator's 200-interface one
// (go run ./samples/gen -enis 200), whose interfaces share few (groups, subnet) pairs.
func BenchmarkModel(b *testing.B) {
	sample, err := vpc.LoadPaths("../../samples/shop/topology")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if out, err := exec.Command("go", "run", "../../samples/gen", "-o", dir, "-records", "1000", "-enis", "200").CombinedOutput(); err != nil {
		b.Fatalf("samples/gen: %v\n%s", err, out)
	}
	gen, err := vpc.LoadPaths(filepath.Join(dir, "topology"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		m    *vpc.Model
	}{{"sample", sample}, {"gen-200", gen}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Model(bc.m)
			}
			b.ReportMetric(float64(len(bc.m.ENIs)), "interfaces")
		})
	}
}
