package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/internal/cputime"
	"github.com/flowlens/flowlens/pkg/ingest"
	"github.com/flowlens/flowlens/pkg/vpc"
)

const benchENIs = 1000

// benchModel is a VPC with 10 subnets (10.0.S.0/24) behind one NACL of 8 entries, 20 groups of 6 rules
// (one referencing another group) and 1000 ENIs with two groups each.
func benchModel(tb testing.TB) *vpc.Model {
	type m = map[string]any
	var subnets, enis, groups []m
	for s := 0; s < 10; s++ {
		subnets = append(subnets, m{"SubnetId": fmt.Sprintf("subnet-%d", s), "VpcId": "vpc-1", "CidrBlock": fmt.Sprintf("10.0.%d.0/24", s)})
	}
	assoc := []m{}
	for s := 0; s < 10; s++ {
		assoc = append(assoc, m{"SubnetId": fmt.Sprintf("subnet-%d", s)})
	}
	entry := func(n int, proto, action string, egress bool, cidr string, from, to int) m {
		e := m{"RuleNumber": n, "Protocol": proto, "RuleAction": action, "Egress": egress, "CidrBlock": cidr}
		if proto == "6" || proto == "17" {
			e["PortRange"] = m{"From": from, "To": to}
		}
		return e
	}
	nacl := m{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Associations": assoc, "Entries": []m{
		entry(10, "6", "deny", false, "198.51.100.0/24", 0, 65535),
		entry(20, "6", "allow", false, "0.0.0.0/0", 443, 443),
		entry(30, "6", "allow", false, "10.0.0.0/16", 0, 65535),
		entry(40, "6", "allow", false, "0.0.0.0/0", 1024, 65535),
		entry(50, "17", "allow", false, "0.0.0.0/0", 1024, 65535),
		entry(10, "6", "allow", true, "0.0.0.0/0", 0, 65535),
		entry(20, "17", "allow", true, "0.0.0.0/0", 53, 53),
		entry(30, "-1", "allow", true, "10.0.0.0/16", 0, 0),
	}}
	for g := 0; g < 20; g++ {
		groups = append(groups, m{"GroupId": fmt.Sprintf("sg-%02d", g), "VpcId": "vpc-1",
			"IpPermissions": []m{
				{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": []m{{"CidrIp": "10.0.0.0/16"}}},
				{"IpProtocol": "tcp", "FromPort": 8000 + g, "ToPort": 8000 + g, "UserIdGroupPairs": []m{{"GroupId": fmt.Sprintf("sg-%02d", (g+1)%20)}}},
				{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": []m{{"CidrIp": "0.0.0.0/0"}}},
				{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": []m{{"CidrIp": "10.0.0.0/8"}}},
			},
			"IpPermissionsEgress": []m{
				{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": []m{{"CidrIp": "0.0.0.0/0"}}},
				{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": []m{{"CidrIp": "0.0.0.0/0"}}},
			}})
	}
	for i := 0; i < benchENIs; i++ {
		enis = append(enis, m{"NetworkInterfaceId": fmt.Sprintf("eni-%017d", i), "SubnetId": fmt.Sprintf("subnet-%d", i%10),
			"VpcId": "vpc-1", "PrivateIpAddress": benchAddr(i).String(),
			"PrivateIpAddresses": []m{{"PrivateIpAddress": benchAddr(i).String(), "Primary": true}},
			"Groups":             []m{{"GroupId": fmt.Sprintf("sg-%02d", i%20)}, {"GroupId": fmt.Sprintf("sg-%02d", (i/20)%20)}}})
	}
	b, err := json.Marshal(m{"Subnets": subnets, "NetworkAcls": []m{nacl}, "SecurityGroups": groups, "NetworkInterfaces": enis})
	if err != nil {
		tb.Fatal(err)
	}
	model, err := vpc.Load(map[string][]byte{"bench.json": b})
	if err != nil || model.HasFatal() {
		tb.Fatal(err, model.Findings)
	}
	return model
}

func benchAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(i % 10), byte(10 + i/10)})
}

// benchFlows makes n records: conversations of a request and its reply on one ENI (internet clients to
// 443, the ENI to DNS, ENI to ENI on 8000+g, some blocked scanners), start times increasing with jitter so
// that about a third arrive out of order within 5 minutes.
func benchFlows(n int) []Flow { return benchFlowsJitter(n, 300) }

// benchFlowsJitter: start times spread over +-jitter/2 seconds around a clock advancing 1 s per 2000 records.
func benchFlowsJitter(n, jitter int) []Flow {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]Flow, 0, n)
	t0 := int64(1_700_000_000)
	for len(out) < n {
		i := len(out)
		eni := rng.IntN(benchENIs)
		self := benchAddr(eni)
		start := t0 + int64(i)/2000
		if jitter > 0 {
			start += int64(rng.IntN(jitter)) - int64(jitter/2)
		}
		peer := netip.AddrFrom4([4]byte{203, 0, byte(rng.IntN(256)), byte(rng.IntN(256))})
		eport := uint16(32768 + rng.IntN(28000))
		id := fmt.Sprintf("eni-%017d", eni)
		mk := func(src, dst netip.Addr, sp, dp uint16, proto uint8, act Action, st int64) Flow {
			return Flow{Interface: id, Src: src, Dst: dst, SrcPort: sp, DstPort: dp, Proto: proto, Packets: 5, Bytes: 500,
				Start: st, End: st + 60, Action: act, TCPFlags: -1}
		}
		switch k := rng.IntN(10); {
		case k < 5: // internet -> 443 and reply
			out = append(out, mk(peer, self, eport, 443, 6, Accept, start), mk(self, peer, 443, eport, 6, Accept, start+1))
		case k < 7: // DNS out and reply
			dns := netip.AddrFrom4([4]byte{10, 0, 0, 2})
			out = append(out, mk(self, dns, eport, 53, 17, Accept, start), mk(dns, self, 53, eport, 17, Accept, start))
		case k < 9: // ENI to ENI
			other := benchAddr(rng.IntN(benchENIs))
			out = append(out, mk(other, self, eport, uint16(8000+eni%20), 6, Accept, start), mk(self, other, uint16(8000+eni%20), eport, 6, Accept, start+2))
		default: // scanner, blocked
			scan := netip.AddrFrom4([4]byte{198, 51, 100, byte(rng.IntN(256))})
			out = append(out, mk(scan, self, eport, 23, 6, Reject, start))
		}
	}
	return out[:n]
}

func BenchmarkJudge(b *testing.B) {
	e := NewEngine(benchModel(b), Config{})
	flows := benchFlows(1 << 16)
	st := e.NewState()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := &flows[i&(len(flows)-1)]
		e.Judge(st, f)
	}
}

// benchRecords converts flows to Arrow batches of the ingest schema (v2 columns + source_file/line).
func benchRecords(tb testing.TB, mem memory.Allocator, flows []Flow, batch int) (*arrow.Schema, []arrow.Record) {
	sc := flowsSchema(v2Header)
	bld := array.NewRecordBuilder(mem, sc)
	defer bld.Release()
	var recs []arrow.Record
	for i := range flows {
		f := &flows[i]
		bld.Field(0).(*array.Int32Builder).Append(2)
		bld.Field(1).(*array.StringBuilder).Append("123456789012")
		bld.Field(2).(*array.StringBuilder).Append(f.Interface)
		bld.Field(3).(*array.StringBuilder).Append(f.Src.String())
		bld.Field(4).(*array.StringBuilder).Append(f.Dst.String())
		bld.Field(5).(*array.Int32Builder).Append(int32(f.SrcPort))
		bld.Field(6).(*array.Int32Builder).Append(int32(f.DstPort))
		bld.Field(7).(*array.Int32Builder).Append(int32(f.Proto))
		bld.Field(8).(*array.Int64Builder).Append(f.Packets)
		bld.Field(9).(*array.Int64Builder).Append(f.Bytes)
		bld.Field(10).(*array.Int64Builder).Append(f.Start)
		bld.Field(11).(*array.Int64Builder).Append(f.End)
		bld.Field(12).(*array.StringBuilder).Append(f.Action.String())
		bld.Field(13).(*array.StringBuilder).Append("OK")
		bld.Field(14).(*array.StringBuilder).Append("bench.log")
		bld.Field(15).(*array.Int64Builder).Append(int64(i + 2))
		if (i+1)%batch == 0 || i == len(flows)-1 {
			recs = append(recs, bld.NewRecord())
		}
	}
	return sc, recs
}

// BenchmarkReader measures the replay stage alone: Arrow batches in (already in memory), per-ENI ordering,
// judging, verdict columns out. 1M records over ~9 minutes of record time, so with the default 10-minute
// window the whole input is one reorder window (the worst case for memory locality); jitter is how far
// records are shuffled in time.
func BenchmarkReader(b *testing.B) {
	for _, jitter := range []int{300, 0} {
		b.Run(fmt.Sprintf("jitter=%ds", jitter), func(b *testing.B) { benchReader(b, jitter) })
	}
}

func benchReader(b *testing.B, jitter int) {
	const n = 1 << 20
	model := benchModel(b)
	mem := memory.NewGoAllocator()
	sc, recs := benchRecords(b, mem, benchFlowsJitter(n, jitter), 8192)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	benchReplay(b, model, sc, recs, n)
}

// benchReplay replays recs (n rows in all) b.N times and reports records/s (wall), records/cpu-s (process CPU
// time, which the load of other processes on a shared machine does not inflate) and ns/record.
func benchReplay(b *testing.B, model *vpc.Model, sc *arrow.Schema, recs []arrow.Record, n int) {
	mem := memory.NewGoAllocator()
	e := NewEngine(model, Config{})
	runtime.GC() // garbage of the setup (building or ingesting recs) is not the replay's
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cpu0 := cputime.Process()
	var sum Summary
	for i := 0; i < b.N; i++ {
		in, _ := array.NewRecordReader(sc, recs)
		r, err := e.NewReader(context.Background(), in, mem)
		in.Release()
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for r.Next() {
			rows += int(r.Record().NumRows())
		}
		if rows != n || r.Err() != nil {
			b.Fatal(rows, r.Err())
		}
		sum = r.Summary()
		r.Release()
	}
	el := time.Since(start)
	cpu := cputime.Process() - cpu0
	b.ReportMetric(float64(n)*float64(b.N)/el.Seconds(), "records/s")
	// CPU seconds used by the process: the machine is shared, so wall time alone understates the code.
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "records/cpu-s")
	b.ReportMetric(el.Seconds()*1e9/float64(n*b.N), "ns/record")
	b.ReportMetric(sum.Agreement, "agreement")
	b.ReportMetric(float64(sum.ConntrackPeak), "conntrack-peak")
}

// BenchmarkReaderShop replays the generated shop scenario (realistic connection reuse: few long-lived
// connections per ENI pair, unlike benchFlows' ~550K one-shot connections). The records are ingested into
// Arrow batches once, outside the timing. Skipped unless FLOWLENS_BENCH_DIR names a directory written by
//
//	go run ./samples/gen -o DIR -records 1000000 -enis 200
//
// (DIR/topology/*.json and DIR/flowlogs/...); for example
//
//	FLOWLENS_BENCH_DIR=/tmp/flowlens-shop-1m go test ./pkg/replay -run='^$' -bench=ReaderShop -count=5
//
// Add -pgo=$PWD/cmd/flowlens/default.pgo (from the repository root) to measure the code as the flowlens
// binary is built: go test applies a package's default.pgo only to main packages.
func BenchmarkReaderShop(b *testing.B) {
	dir := os.Getenv("FLOWLENS_BENCH_DIR")
	if dir == "" {
		b.Skip("FLOWLENS_BENCH_DIR not set (see the benchmark's comment)")
	}
	d := loadShop(b, dir)
	benchReplay(b, d.model, d.sc, d.recs, d.n)
}

// shopData is the shop scenario ingested once per test binary: the benchmark function runs several times
// (b.N = 1, then the measured N), and ingesting (text parsing) each time would dominate a -cpuprofile of
// the replay stage, though never the timed loop.
type shopData struct {
	model *vpc.Model
	sc    *arrow.Schema
	recs  []arrow.Record
	n     int
}

var shopCache = map[string]*shopData{}

func loadShop(b *testing.B, dir string) *shopData {
	if d := shopCache[dir]; d != nil {
		return d
	}
	topo, err := filepath.Glob(filepath.Join(dir, "topology", "*.json"))
	if err != nil || len(topo) == 0 {
		b.Fatalf("no topology under %s: %v", dir, err)
	}
	model, err := vpc.LoadPaths(topo...)
	if err != nil || model.HasFatal() {
		b.Fatal(err, model.Findings)
	}
	mem := memory.NewGoAllocator()
	// As analyze reads them: with the IPv4 numbers the parser found (no text parsing of IPv4 in replay).
	in, err := ingest.NewReader(context.Background(), []string{filepath.Join(dir, "flowlogs")},
		ingest.Options{Alloc: mem, IPv4Numbers: true})
	if err != nil {
		b.Fatal(err)
	}
	d := &shopData{model: model, sc: in.Schema()}
	for in.Next() {
		rec := in.Record()
		rec.Retain() // kept for the life of the test binary
		d.recs = append(d.recs, rec)
		d.n += int(rec.NumRows())
	}
	if in.Err() != nil {
		b.Fatal(in.Err())
	}
	in.Release()
	shopCache[dir] = d
	return d
}

// BenchmarkVerdictID measures numbering one record's verdict (Reader.judgeItem's last step, a shard's table
// in front of the locked set) over 2,560 distinct verdicts (as in the 10M bench file) drawn with a skew (most
// records repeat a few verdicts).
func BenchmarkVerdictID(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]verdictKey, 1<<16)
	for i := range keys {
		n := int32(rng.ExpFloat64()*300) % 2560
		v := rowVerdict{eni: n % 200, nacl: n % 7, sg: n / 7 % 40, infer: Inference(1 + n%4),
			dir: vpc.Direction(1 + n%2), model: Accept, logged: Accept, role: Role(1 + n/200%2), path: pathCode(2 + n%3<<2)}
		keys[i] = v.pack()
	}
	var set verdictSet
	var ids shardIDs
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ids.id(keys[i&(len(keys)-1)], &set)
	}
}
