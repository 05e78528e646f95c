package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/ingest"
	"github.com/flowlens/flowlens/pkg/vpc"
)

func flow(eni, src, dst string, sport, dport uint16, proto uint8, start int64, action Action) Flow {
	return Flow{
		Interface: eni, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: sport, DstPort: dport,
		Proto: proto, Packets: 10, Bytes: 1000, Start: start, End: start + 60, Action: action, TCPFlags: -1,
	}
}

// TestJudgeNoAllocs guards the per-record path: ENI lookup, NACL and SG evaluation, tracking lookups and
// updates, counters and rule hits.
func TestJudgeNoAllocs(t *testing.T) {
	e := NewEngine(loadModel(t), Config{})
	st := e.NewState()
	flows := []Flow{
		flow("eni-1235b8ca123456789", "203.0.113.12", "172.31.16.139", 50000, 443, 6, 1000, Accept),
		flow("eni-1235b8ca123456789", "172.31.16.139", "203.0.113.12", 443, 50000, 6, 1001, Accept),
		flow("eni-1235b8ca123456789", "198.51.100.7", "172.31.16.139", 50000, 22, 6, 1002, Reject),
		flow("eni-b", "172.31.16.21", "172.31.9.12", 40000, 5432, 6, 1003, Accept),
		flow("eni-1235b8ca123456789", "203.0.113.12", "172.31.16.139", 0, 0, 1, 1004, Accept),
		flow("eni-1235b8ca123456789", "172.31.16.139", "203.0.113.12", 0, 0, 1, 1005, Reject),
		flow("eni-dead", "172.31.16.139", "203.0.113.12", 0, 0, 1, 1005, Reject),
	}
	now := int64(1000)
	judgeAll := func() {
		for i := range flows {
			flows[i].Start, flows[i].End = now, now+1
			e.Judge(st, &flows[i])
		}
		now += 2
	}
	judgeAll() // first insertion of tracked connections and rule-count keys
	if n := testing.AllocsPerRun(1000, judgeAll); n != 0 {
		t.Errorf("Judge allocates %.1f times per %d records, want 0", n, len(flows))
	}
}

// TestJudgeDirectionFromAddresses: without interface-id, the ENI is found by address; with two monitored
// ENIs and no flow-direction it is not guessed.
func TestJudgeDirectionFromAddresses(t *testing.T) {
	e := NewEngine(loadModel(t), Config{})
	st := e.NewState()
	type out struct {
		ENI   string
		Dir   string
		Cause string
	}
	judge := func(f Flow) out {
		v := e.Judge(st, &f)
		o := out{Dir: dirName(v.Dir), Cause: v.Cause.String()}
		if v.ENI != nil {
			o.ENI = v.ENI.ID
		}
		return o
	}
	ingressFlow := flow("", "203.0.113.12", "172.31.16.139", 50000, 443, 6, 1000, Accept)
	betweenENIs := flow("", "172.31.16.21", "172.31.9.12", 40000, 5432, 6, 1000, Accept)
	withDir := betweenENIs
	withDir.Direction = vpc.Ingress
	got := []out{judge(ingressFlow), judge(betweenENIs), judge(withDir)}
	want := []out{
		{ENI: "eni-1235b8ca123456789", Dir: "ingress"},
		{Cause: "unknown-interface"},
		{ENI: "eni-b", Dir: "ingress"},
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("(-got +want):\n%s", d)
	}
}

// TestAdmitModel: in audit mode the model's verdict, not the log, decides what is tracked.
func TestAdmitModel(t *testing.T) {
	m := loadModel(t)
	req := flow("eni-1235b8ca123456789", "198.51.100.7", "172.31.16.139", 50000, 8080, 6, 1000, Accept) // model rejects (no SG rule)
	rep := flow("eni-1235b8ca123456789", "172.31.16.139", "198.51.100.7", 8080, 50000, 6, 1001, Accept)
	var got []string
	for _, admit := range []AdmitPolicy{AdmitLogged, AdmitModel} {
		e := NewEngine(m, Config{Admit: admit})
		st := e.NewState()
		e.Judge(st, &req)
		v := e.Judge(st, &rep)
		got = append(got, v.Path.sgStep().Basis.String()+"/"+v.Infer.String())
	}
	want := []string{"conntrack/conntrack", "conntrack-assumed/ports"}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("(-got +want):\n%s", d)
	}
}

func TestRuleHits(t *testing.T) {
	lines := []string{
		eni1 + "203.0.113.12 172.31.16.139 50000 443 6 10 1000 1000 1060 ACCEPT OK",
		eni1 + "172.31.16.139 203.0.113.12 443 50000 6 10 2000 1010 1070 ACCEPT OK",
		eni1 + "198.51.100.7 172.31.16.139 50000 22 6 1 40 1100 1160 REJECT OK",
	}
	_, _, hits := replayText(t, loadModel(t), Config{}, v2Header, lines, 10)
	pick := map[string]bool{"acl-a/ingress/50": true, "acl-a/ingress/100": true, "acl-a/ingress/120": true,
		"acl-a/egress/100": true, "acl-a/egress/32767": true, "sg-web/ingress/sg-web/ingress/1": true, "sg-web/egress/sg-web/egress/0": true}
	var got []RuleHit
	n := 0
	for _, h := range hits {
		if pick[h.ResourceID+"/"+h.Direction+"/"+h.RuleID] {
			got = append(got, h)
		}
		if h.RuleType == "nacl" {
			n++
		}
	}
	if n != 18 { // acl-a: 9 given + '*' 32768 in and out synthesized; acl-b: 3 given + 4 synthesized '*'
		t.Errorf("nacl rows: %d, want 18 (every entry, including synthesized '*' entries)", n)
	}
	want := []RuleHit{
		{RuleType: "nacl", ResourceID: "acl-a", RuleID: "50", Direction: "ingress", Action: "deny", Rule: "deny tcp 22 from 198.51.100.0/24", Hits: 1, Packets: 1, Bytes: 40, FirstSeen: 1100, LastSeen: 1160},
		{RuleType: "nacl", ResourceID: "acl-a", RuleID: "100", Direction: "ingress", Action: "allow", Rule: "allow all from 0.0.0.0/0", Hits: 1, Packets: 10, Bytes: 1000, FirstSeen: 1000, LastSeen: 1060},
		{RuleType: "nacl", ResourceID: "acl-a", RuleID: "120", Direction: "ingress", Action: "allow", Rule: "allow tcp 80 from 10.0.0.0/8", ShadowedBy: 100},
		{RuleType: "nacl", ResourceID: "acl-a", RuleID: "100", Direction: "egress", Action: "allow", Rule: "allow tcp 0-65535 to 0.0.0.0/0", Hits: 1, Packets: 10, Bytes: 2000, FirstSeen: 1010, LastSeen: 1070},
		{RuleType: "nacl", ResourceID: "acl-a", RuleID: "32767", Direction: "egress", Action: "deny", Rule: "deny all to 0.0.0.0/0"},
		{RuleType: "sg", ResourceID: "sg-web", RuleID: "sg-web/ingress/1", Direction: "ingress", Action: "allow", Rule: ruleDisplay(t, "sg-web/ingress/1"), Hits: 1, Packets: 10, Bytes: 1000, FirstSeen: 1000, LastSeen: 1060},
		// the reply went out through connection tracking: no rule hit
		{RuleType: "sg", ResourceID: "sg-web", RuleID: "sg-web/egress/0", Direction: "egress", Action: "allow", Rule: ruleDisplay(t, "sg-web/egress/0")},
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("rule hits (-got +want):\n%s", d)
	}
	if _, err := json.Marshal(hits); err != nil {
		t.Fatal(err)
	}
}

func ruleDisplay(t *testing.T, id string) string {
	m := loadModel(t)
	for _, g := range m.Groups {
		for _, r := range append(append([]*vpc.SGRule(nil), g.Ingress...), g.Egress...) {
			if r.ID == id {
				return r.Display
			}
		}
	}
	t.Fatalf("no rule %s", id)
	return ""
}

func TestSummaryJSON(t *testing.T) {
	lines := []string{
		eni1 + "203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
		eni1 + "172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
		eni1 + "203.0.113.50 172.31.16.139 50000 443 6 1 60 1432917100 1432917160 REJECT OK",
	}
	_, s, _ := replayText(t, loadModel(t), Config{}, v2Header, lines, 10)
	got := struct {
		Judged    int64
		Agreement float64
		ByLayer   map[string]int64
		ByCause   map[string]int64
		ByRule    []RuleCount
		Inference map[string]int64
	}{s.Judged, s.Agreement, s.RejectsByLayer, s.RejectsByCause, s.RejectsByRule, s.Inference}
	want := got
	want.Judged, want.Agreement = 3, 2.0/3
	want.ByLayer = map[string]int64{"nacl-outbound": 1}
	want.ByCause = map[string]int64{"nacl-missing-return": 1, "unexplained": 1}
	want.ByRule = []RuleCount{{Layer: "nacl-outbound", Resource: "acl-a", Rule: "32767", Cause: "nacl-missing-return", Count: 1}}
	want.Inference = map[string]int64{"order": 1, "conntrack": 1, "ports": 1}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("summary (-got +want):\n%s", d)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

// TestReaderShardsAgree: the sharded Reader (2 workers) gives the same verdicts, summary and rule hits as a
// single worker and as calling Judge record by record in the same order.
func TestReaderShardsAgree(t *testing.T) {
	model := benchModel(t)
	flows := benchFlowsJitter(20000, 0)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sc, recs := benchRecords(t, mem, flows, 1000)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	run := func(workers int) (Summary, []RuleHit, []string) {
		in, _ := array.NewRecordReader(sc, recs)
		defer in.Release()
		r, err := NewReader(context.Background(), model, in, Config{Workers: workers, ReorderWindow: -1}, mem)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		var causes []string
		for _, v := range verdictText(t, r) {
			causes = append(causes, v[verdictField(flowschema.ColVerdictCause)])
		}
		return r.Summary(), r.RuleHits(), causes
	}
	s1, h1, c1 := run(1)
	s2, h2, c2 := run(2)
	if d := cmp.Diff(s2, s1); d != "" {
		t.Errorf("summary, 2 workers (-got) vs 1 (+want):\n%s", d)
	}
	if d := cmp.Diff(h2, h1); d != "" {
		t.Errorf("rule hits, 2 workers (-got) vs 1 (+want):\n%s", d)
	}
	if d := cmp.Diff(c2, c1); d != "" {
		t.Errorf("causes, 2 workers (-got) vs 1 (+want):\n%s", d)
	}
	e := NewEngine(model, Config{})
	st := e.NewState()
	var c0 []string
	for i := range flows {
		v := e.Judge(st, &flows[i])
		c0 = append(c0, v.Cause.String())
	}
	if d := cmp.Diff(c1, c0); d != "" {
		t.Errorf("causes, Reader (-got) vs Judge (+want):\n%s", d)
	}
	if s1.Judged != 20000 || s1.Agreement < 0.5 {
		t.Errorf("judged %d agreement %v", s1.Judged, s1.Agreement)
	}
}

// TestReorderBounded: MaxBuffered bounds the buffer; records pushed out early are counted, and records then
// arriving behind them are late.
func TestReorderBounded(t *testing.T) {
	lines := []string{
		eni1 + "172.31.16.139 203.0.113.12 443 50000 6 10 1000 8010 8070 ACCEPT OK",
		eni1 + "172.31.16.139 203.0.113.12 443 50001 6 10 1000 8011 8070 ACCEPT OK",
		eni1 + "203.0.113.12 172.31.16.139 50000 443 6 10 1000 8000 8060 ACCEPT OK",
	}
	rows, s, _ := replayText(t, loadModel(t), Config{MaxBuffered: 1}, v2Header, lines, 1)
	got := []int64{s.ForcedReleases, s.Late}
	if d := cmp.Diff(got, []int64{1, 1}); d != "" {
		t.Errorf("forced, late (-got +want):\n%s", d)
	}
	// the reply was judged before its request: a reply assumed established
	if rows[0].SG != "conntrack-assumed" {
		t.Errorf("first row sg_rule = %q, want conntrack-assumed", rows[0].SG)
	}
}

// TestReaderJudgeNoAllocs guards the Reader's per-record path: parsing a row into its pending form, computing
// its connection key and judging it into the row's verdict slot.
func TestReaderJudgeNoAllocs(t *testing.T) {
	model := benchModel(t)
	mem := memory.NewGoAllocator()
	sc, recs := benchRecords(t, mem, benchFlowsJitter(4096, 0), 4096)
	defer recs[0].Release()
	in, _ := array.NewRecordReader(sc, recs)
	defer in.Release()
	r, err := NewReader(context.Background(), model, in, Config{Workers: 1}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	rec := recs[0]
	n := int(rec.NumRows())
	s := r.newSlot(rec, n)
	defer s.ids.Release()
	cols := r.batchCols(rec)
	flows := make([]compactFlow, n)
	rows := make([]pending, n)
	sh := r.shards[0]
	step := int64(0)
	judgeAll := func() {
		for i := range flows {
			r.eng.parseRow(&cols, i, r.rowENI(&cols, i), &flows[i])
		}
		for i := range flows {
			rows[i] = pending{f: flows[i], row: int32(i)}
			rows[i].f.start += step // later each round, so that connections stay live
			var kd hashedKey
			rows[i].f.key(&kd)
			r.judgeItem(sh, s, &rows[i], &kd)
		}
		step += 10
	}
	judgeAll() // tracking table and rule-count keys reach their size; examples fill up
	if a := testing.AllocsPerRun(20, judgeAll); a != 0 {
		t.Errorf("parse + judge allocates %.1f times per %d records, want 0", a, n)
	}
}

// TestReaderVerdictIDsSharded: with two shards numbering verdicts concurrently (ids then depend on timing),
// every row's verdict_id still leads to the same verdict text, cell by cell and with the same NULLs, as with
// one shard; and all memory is released.
func TestReaderVerdictIDsSharded(t *testing.T) {
	model := benchModel(t)
	flows := benchFlowsJitter(17000, 60) // two records of 8192 rows (parsed in parallel) and a small one
	for i := range flows {
		if i%7 == 0 { // logged REJECTs of accepted traffic: unexplained rows
			flows[i].Action = Reject
		}
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sc, recs := benchRecords(t, mem, flows, 8192)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	run := func(workers int) [][]string {
		in, _ := array.NewRecordReader(sc, recs)
		defer in.Release()
		r, err := NewReader(context.Background(), model, in, Config{Workers: workers}, mem)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		return verdictText(t, r)
	}
	one, two := run(1), run(2)
	if len(one) != len(flows) {
		t.Fatalf("%d rows, want %d", len(one), len(flows))
	}
	if d := cmp.Diff(two, one); d != "" {
		t.Errorf("verdict columns, 2 workers (-got) vs 1 (+want):\n%s", d)
	}
}

// TestVerdictKeyRoundTrip: packKey keeps every field of a verdict key, at the ends of their ranges.
func TestVerdictKeyRoundTrip(t *testing.T) {
	for _, k := range []rowVerdict{
		{eni: -1, nacl: -1, sg: -1},
		{eni: 0, nacl: 1<<31 - 1, sg: 7, dir: vpc.Egress, model: Reject, logged: Accept, layer: LayerBPA,
			cause: CauseUnexplained, also: 1<<numLayers - 1, role: RoleReply, infer: InferOrder, path: 1<<29 - 1},
		{eni: 1<<31 - 1, nacl: -1, sg: 1<<31 - 1, dir: vpc.Ingress, model: Accept, logged: Reject, layer: LayerSGOutbound,
			cause: 255, also: 255, role: 255, infer: 255, path: 1<<32 - 1},
	} {
		p := k.pack()
		if got := p.unpack(); got != k {
			t.Errorf("unpack(pack(%+v)) = %+v", k, got)
		}
	}
}

// TestReaderQueueBounded: when the input's time stops advancing (here a second copy of the records, all
// behind the reorder window), the records held for in-order output stay bounded (Reader.queueCap plus one
// input record): the buffered rows of the oldest record are released early and
// counted, instead of the rest of the input piling up behind it. Every row still comes out.
func TestReaderQueueBounded(t *testing.T) {
	model := benchModel(t)
	once := benchFlowsJitter(20000, 0)
	flows := append(append([]Flow(nil), once...), once...)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const batch, maxBuffered = 500, 4000
	sc, recs := benchRecords(t, mem, flows, batch)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	in, _ := array.NewRecordReader(sc, recs)
	defer in.Release()
	r, err := NewReader(context.Background(), model, in, Config{MaxBuffered: maxBuffered}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	rows := 0
	for r.Next() {
		rows += int(r.Record().NumRows())
	}
	if r.Err() != nil || rows != len(flows) {
		t.Fatalf("%d rows out of %d, err %v", rows, len(flows), r.Err())
	}
	sum := r.Summary()
	if limit := r.queueCap + batch; r.peak > limit || r.queueCap != queueFactor*maxBuffered {
		t.Errorf("up to %d rows queued, want at most %d", r.peak, limit)
	}
	if sum.Late < int64(len(once))/2 || sum.ForcedReleases == 0 {
		t.Errorf("late %d, replayed early %d: the second copy should be late and force releases", sum.Late, sum.ForcedReleases)
	}
}

// TestReaderDirectionFromAddresses: without flow-direction, the Reader (which matches address texts against
// the ENI's own before parsing) finds the direction Judge finds from parsed addresses, including another
// spelling of the ENI's IPv6 address, on either side and beside an own IPv4 text.
func TestReaderDirectionFromAddresses(t *testing.T) {
	const eni = "eni-1235b8ca123456789" // 172.31.16.139 and 2001:db8:1234:a100:8d6e:3477:df66:f105
	cases := []struct {
		name, src, dst, want string
	}{
		{"dst own IPv4", "203.0.113.12", "172.31.16.139", "ingress"},
		{"src own IPv4", "172.31.16.139", "203.0.113.12", "egress"},
		{"both own: dst decides", "172.31.16.139", "172.31.16.139", "ingress"},
		{"dst own IPv6 as written", "2001:db8::5", "2001:db8:1234:a100:8d6e:3477:df66:f105", "ingress"},
		{"src own IPv6 as written", "2001:db8:1234:a100:8d6e:3477:df66:f105", "2001:db8::5", "egress"},
		{"dst own IPv6 in capitals", "2001:db8::5", "2001:DB8:1234:A100:8D6E:3477:DF66:F105", "ingress"},
		{"src own IPv4, dst own IPv6 spelled otherwise", "172.31.16.139", "2001:0db8:1234:a100:8d6e:3477:df66:f105", "ingress"},
		{"src own IPv6 spelled otherwise", "2001:DB8:1234:A100:8D6E:3477:DF66:F105", "203.0.113.9", "egress"},
		{"neither", "203.0.113.12", "198.51.100.7", ""},
	}
	model := loadModel(t)
	e := NewEngine(model, Config{})
	var lines []string
	for i, tc := range cases {
		lines = append(lines, fmt.Sprintf("2 123456789010 %s %s %s 50000 443 6 10 1000 %d %d ACCEPT OK", eni, tc.src, tc.dst, 1000+i, 1060+i))
	}
	got, _, _ := replayText(t, model, Config{}, v2Header, lines, 4)
	for i, tc := range cases {
		f := flow(eni, tc.src, tc.dst, 50000, 443, 6, int64(1000+i), Accept)
		judged := dirName(e.Judge(e.NewState(), &f).Dir)
		if got[i].Dir != tc.want || judged != tc.want {
			t.Errorf("%s: Reader direction %q, Judge %q, want %q", tc.name, got[i].Dir, judged, tc.want)
		}
	}
}

// TestReaderIPv4Numbers: records carrying ingest's IPv4 numbers (the addresses analyze hands to replay)
// get the verdicts, summary and rule hits of the same records without them (addresses parsed from text),
// on both bundled sample scenarios (v2 records, whose direction comes from the addresses, and v5 ones).
func TestReaderIPv4Numbers(t *testing.T) {
	topo, err := filepath.Glob("../../samples/shop/topology/*.json")
	if err != nil || len(topo) == 0 {
		t.Fatal("no sample topology", err)
	}
	model, err := vpc.LoadPaths(topo...)
	if err != nil || model.HasFatal() {
		t.Fatal(err, model.Findings)
	}
	for _, logs := range []string{"flowlogs", "flowlogs-v5"} {
		run := func(numbers bool) (Summary, []RuleHit, [][]string) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			in, err := ingest.NewReader(context.Background(), []string{"../../samples/shop/" + logs},
				ingest.Options{Alloc: mem, IPv4Numbers: numbers})
			if err != nil {
				t.Fatal(err)
			}
			if got := in.Schema().HasField(flowschema.IPv4Col(flowschema.ColSrcAddr)); got != numbers {
				t.Fatalf("%s: srcaddr numbers %t, want %t", logs, got, numbers)
			}
			r, err := NewReader(context.Background(), model, in, Config{}, mem)
			in.Release()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Release()
			rows := verdictText(t, r)
			return r.Summary(), r.RuleHits(), rows
		}
		s0, h0, v0 := run(false)
		s1, h1, v1 := run(true)
		if len(v0) < 1000 || s0.Judged == 0 {
			t.Fatalf("%s: %d rows, %d judged: not the sample", logs, len(v0), s0.Judged)
		}
		if d := cmp.Diff(v0, v1); d != "" {
			t.Errorf("%s: verdicts, text (-) vs numbers (+):\n%s", logs, d)
		}
		if d := cmp.Diff(s0, s1); d != "" {
			t.Errorf("%s: summary, text (-) vs numbers (+):\n%s", logs, d)
		}
		if d := cmp.Diff(h0, h1); d != "" {
			t.Errorf("%s: rule hits, text (-) vs numbers (+):\n%s", logs, d)
		}
	}
}

// unionTopology: one interface with two groups whose inbound rules overlap, behind a NACL that denies one
// network before allowing everything.
const unionTopology = `{
  "Subnets": [{"SubnetId": "subnet-u", "VpcId": "vpc-u", "CidrBlock": "172.16.0.0/24"}],
  "NetworkAcls": [{"NetworkAclId": "acl-u", "VpcId": "vpc-u", "IsDefault": true, "Associations": [{"SubnetId": "subnet-u"}],
    "Entries": [
      {"RuleNumber": 50, "Protocol": "-1", "RuleAction": "deny", "Egress": false, "CidrBlock": "192.0.2.0/24"},
      {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
      {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"}]}],
  "SecurityGroups": [
    {"GroupId": "sg-a", "VpcId": "vpc-u", "IpPermissions": [
       {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
       {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
     "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
    {"GroupId": "sg-b", "VpcId": "vpc-u", "IpPermissions": [
       {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]},
       {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
     "IpPermissionsEgress": []}],
  "NetworkInterfaces": [{"NetworkInterfaceId": "eni-u", "SubnetId": "subnet-u", "VpcId": "vpc-u",
    "PrivateIpAddress": "172.16.0.10", "PrivateIpAddresses": [{"PrivateIpAddress": "172.16.0.10", "Primary": true}],
    "Groups": [{"GroupId": "sg-a"}, {"GroupId": "sg-b"}]}]
}`

// TestRuleHitsUnion: a security group is a union of allows, so every rule that allows a packet the groups
// judged is credited, not only the first in model order; tracked packets and packets a NACL stopped first
// credit no security-group rule.
func TestRuleHitsUnion(t *testing.T) {
	m, err := vpc.Load(map[string][]byte{"union.json": []byte(unionTopology)})
	if err != nil || m.HasFatal() {
		t.Fatalf("load: %v %v", err, m.Findings)
	}
	for _, tc := range []struct {
		name  string
		flows []Flow
		want  map[string]int64 // rule id -> hits, for the SG rules (missing: 0)
		first string           // the sg_rule of the last flow: the first allowing rule in model order
	}{
		{name: "three rules of two groups allow it",
			flows: []Flow{flow("eni-u", "10.1.2.3", "172.16.0.10", 50000, 443, 6, 1000, Accept)},
			want:  map[string]int64{"sg-a/ingress/0": 1, "sg-a/ingress/1": 1, "sg-b/ingress/0": 1},
			first: "sg-a/ingress/0"},
		{name: "only the world-open rule allows it",
			flows: []Flow{flow("eni-u", "203.0.113.5", "172.16.0.10", 50000, 443, 6, 1000, Accept)},
			want:  map[string]int64{"sg-a/ingress/0": 1},
			first: "sg-a/ingress/0"},
		{name: "a later rule alone allows it",
			flows: []Flow{flow("eni-u", "10.9.9.9", "172.16.0.10", 50000, 8080, 6, 1000, Accept)},
			want:  map[string]int64{"sg-a/ingress/1": 1},
			first: "sg-a/ingress/1"},
		{name: "the reply and a further packet pass by tracking and credit nothing more",
			flows: []Flow{
				flow("eni-u", "10.9.9.9", "172.16.0.10", 50000, 8080, 6, 1000, Accept),
				flow("eni-u", "172.16.0.10", "10.9.9.9", 8080, 50000, 6, 1001, Accept),
				flow("eni-u", "10.9.9.9", "172.16.0.10", 50000, 8080, 6, 1002, Accept),
			},
			want:  map[string]int64{"sg-a/ingress/1": 1},
			first: "conntrack"},
		{name: "an untracked flow's reply is judged by the outbound rules",
			// sg-a/ingress/0 admits 0.0.0.0/0 and sg-a/egress/0 allows everything out: AWS does not track it
			flows: []Flow{
				flow("eni-u", "10.1.2.3", "172.16.0.10", 50000, 443, 6, 1000, Accept),
				flow("eni-u", "172.16.0.10", "10.1.2.3", 443, 50000, 6, 1001, Accept),
			},
			want:  map[string]int64{"sg-a/ingress/0": 1, "sg-a/ingress/1": 1, "sg-b/ingress/0": 1, "sg-a/egress/0": 1},
			first: "sg-a/egress/0"},
		{name: "the NACL denies it before the groups",
			flows: []Flow{flow("eni-u", "192.0.2.7", "172.16.0.10", 50000, 443, 6, 1000, Reject)},
			want:  map[string]int64{},
			first: "sg-a/ingress/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(m, Config{})
			st := e.NewState()
			var v Verdict
			for i := range tc.flows {
				v = e.Judge(st, &tc.flows[i])
			}
			got := map[string]int64{}
			for _, h := range st.RuleHits() {
				if h.RuleType == "sg" && h.Hits > 0 {
					got[h.RuleID] = h.Hits
				}
			}
			if d := cmp.Diff(got, tc.want); d != "" {
				t.Errorf("SG rule hits (-got +want):\n%s", d)
			}
			sg := v.Path.sgStep()
			first := sg.Basis.String()
			if sg.Basis == BasisRule {
				first = sg.Rule.ID
			}
			if first != tc.first {
				t.Errorf("deciding SG basis/rule %s, want %s", first, tc.first)
			}
		})
	}
}

// TestTwoPoliciesOneHistory: a second Reader over another engine, chained on the first Reader's output with
// its own id column, judges every record exactly as a replay of the candidate alone does, while the first
// Reader's verdicts stay those of the baseline alone. The candidate drops web's inbound 443 rule.
func TestTwoPoliciesOneHistory(t *testing.T) {
	lines := []string{
		eni1 + "203.0.113.12 172.31.16.139 50000 443 6 10 1000 1000 1060 ACCEPT OK",
		eni1 + "172.31.16.139 203.0.113.12 443 50000 6 10 2000 1010 1070 ACCEPT OK",
		eni1 + "198.51.100.7 172.31.16.139 50000 22 6 1 40 1100 1160 REJECT OK",
		eni1 + "172.31.16.5 172.31.16.139 50001 22 6 1 40 1200 1260 ACCEPT OK",
	}
	baseline := loadModel(t)
	candidate := loadModel(t)
	eni := candidate.ENIs["eni-1235b8ca123456789"]
	var kept []*vpc.SGRule
	for _, r := range eni.Ingress {
		if r.FromPort != 443 {
			kept = append(kept, r)
		}
	}
	eni.Ingress = kept
	cfg := Config{Admit: AdmitModel}

	want1, _, _ := replayText(t, baseline, cfg, v2Header, lines, 2)
	want2, _, _ := replayText(t, candidate, cfg, v2Header, lines, 2)
	if cmp.Equal(want1, want2) {
		t.Fatal("the candidate policy judges like the baseline: the test cannot tell them apart")
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	in := textFlows(t, mem, v2Header, lines, 2)
	r1, err := NewReader(context.Background(), baseline, in, cfg, mem)
	in.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Release()
	if _, err := NewReader(context.Background(), candidate, r1, cfg, mem); err == nil {
		t.Fatal("a second Reader with the default id column over replayed records: no error")
	}
	r2, err := NewEngine(candidate, cfg).NewReader(context.Background(), r1, mem, IDColumn("candidate_verdict_id"))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Release()
	var ids1, ids2 []uint32
	for r2.Next() {
		rec := r2.Record()
		ids1 = append(ids1, verdictIDs(rec).Uint32Values()...)
		ids2 = append(ids2, rec.Column(rec.Schema().FieldIndices("candidate_verdict_id")[0]).(*array.Uint32).Uint32Values()...)
	}
	if r2.Err() != nil {
		t.Fatal(r2.Err())
	}
	for _, tc := range []struct {
		name string
		r    *Reader
		ids  []uint32
		want []row
	}{{"baseline", r1, ids1, want1}, {"candidate", r2, ids2, want2}} {
		vt := tc.r.Verdicts()
		var got []row
		for _, id := range tc.ids {
			got = append(got, verdictRow(vt, int(id)))
		}
		vt.Release()
		if d := cmp.Diff(got, tc.want); d != "" {
			t.Errorf("%s verdicts (-got +want):\n%s", tc.name, d)
		}
	}
}
