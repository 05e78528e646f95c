// Command gen writes the "shop" sample scenario at any size: AWS CLI topology JSON, VPC flow logs in the S3
// layout (version 2 default format or a version 5 custom format), and optionally the outcome the scenario's
// model expects for every record.
//
//	go run ./samples/gen -o DIR -records N [-seed S] [-format v2|v5] [-gzip] [-files K] [-enis M] [-expect [-expect-dir DIR]]
//
// See samples/shop/README.md for the scenario, its known problems and the expected.csv columns.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"
)

type config struct {
	out       string
	records   int
	seed      uint64
	format    string
	gzip      bool
	files     int
	enis      int
	expect    bool
	expectDir string
	flowDir   string
	duration  time.Duration
	start     string
	topology  bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.out, "o", "", "output directory (created)")
	flag.IntVar(&cfg.records, "records", 3000, "number of flow-log records (header lines not counted)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "random seed; the same flags and seed give byte-identical output")
	flag.StringVar(&cfg.format, "format", "v2", "v2 (default format) or v5 (custom format with tcp-flags, flow-direction, traffic-path, ...)")
	flag.BoolVar(&cfg.gzip, "gzip", false, "gzip the flow-log files (.log.gz, as S3 delivers them) and expected.csv")
	flag.IntVar(&cfg.files, "files", 1, "split the records over this many files (S3 delivers one per 5 minutes)")
	flag.IntVar(&cfg.enis, "enis", 9, "number of ENIs, spread 3:3:2:1 over web, app, db and bastion (max 540: each tier must fit its /24)")
	flag.BoolVar(&cfg.expect, "expect", false, "also write the expected model outcome of every record (expected.csv)")
	flag.StringVar(&cfg.expectDir, "expect-dir", "", "directory of expected.csv (default: -o); tests' expectations belong in a testdata directory, not beside the sample")
	flag.StringVar(&cfg.flowDir, "flow-dir", "flowlogs", "flow-log directory under -o; expected.csv is named after it when not flowlogs")
	flag.DurationVar(&cfg.duration, "duration", time.Hour, "time span covered by the records")
	flag.StringVar(&cfg.start, "start", "2026-11-20T00:00:00Z", "time of the first aggregation window (RFC 3339)")
	flag.BoolVar(&cfg.topology, "topology", true, "write the topology JSON under -o/topology")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	switch {
	case cfg.out == "":
		return errors.New("-o DIR is required")
	case cfg.records < 0:
		return errors.New("-records must be >= 0")
	case cfg.files < 1:
		return errors.New("-files must be >= 1")
	case cfg.enis < 4:
		return errors.New("-enis must be >= 4 (one per tier)")
	case cfg.format != "v2" && cfg.format != "v5":
		return fmt.Errorf("-format %q: want v2 or v5", cfg.format)
	case cfg.duration < time.Minute:
		return errors.New("-duration must be at least 1m")
	}
	start, err := time.Parse(time.RFC3339, cfg.start)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	tp, err := buildTopology(cfg.enis)
	if err != nil {
		return err
	}
	if cfg.topology {
		if err := writeTopology(filepath.Join(cfg.out, "topology"), tp); err != nil {
			return err
		}
	}
	g := newGen(tp, cfg.seed, start.Unix())
	w := &writer{cfg: cfg}
	if cfg.expect {
		name := "expected.csv"
		if cfg.flowDir != "flowlogs" {
			name = "expected-" + filepath.Base(cfg.flowDir) + ".csv"
		}
		if cfg.gzip {
			name += ".gz"
		}
		dir := cfg.expectDir
		if dir == "" {
			dir = cfg.out
		}
		if w.exp, err = createOut(filepath.Join(dir, name), cfg.gzip); err != nil {
			return err
		}
		w.exp.w.WriteString("file,line,interface_id,flow_direction,role,action,layer,rule,resource,cause,also,nacl_entry,sg_pass,scenario\n")
	}

	ks := kinds()
	total := 0
	for _, k := range ks {
		total += k.weight
	}
	const meanRecords = 2.6 // records per conversation in the mix above
	gap := cfg.duration.Seconds() / (float64(cfg.records) / meanRecords)
	clock := 60.0
	for w.n < cfg.records {
		clock += g.expGap(gap)
		// Small disorder: a conversation's first packet lands up to 3 s before the running clock.
		t := max(0, clock-3*g.r.Float64())
		x := g.r.IntN(total)
		for _, k := range ks {
			if x < k.weight {
				k.gen(g, t)
				break
			}
			x -= k.weight
		}
		for i := range g.out {
			if w.n == cfg.records {
				break
			}
			if err := w.write(&g.out[i]); err != nil {
				return err
			}
		}
		g.out = g.out[:0]
	}
	return w.close()
}

// out is one output file: a buffered writer over an optional gzip stream.
type out struct {
	f   *os.File
	z   *gzip.Writer
	w   *bufio.Writer
	rel string
}

func createOut(path string, gz bool) (*out, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	o := &out{f: f}
	var dst io.Writer = f
	if gz {
		o.z = gzip.NewWriter(f)
		dst = o.z
	}
	o.w = bufio.NewWriterSize(dst, 1<<20)
	return o, nil
}

func (o *out) close() error {
	err := o.w.Flush()
	if o.z != nil {
		err = errors.Join(err, o.z.Close())
	}
	return errors.Join(err, o.f.Close())
}

// writer distributes records over the flow-log files and writes expected.csv.
type writer struct {
	cfg  config
	cur  *out
	file int // index of cur
	line int // lines written to cur, header included
	n    int // records written
	exp  *out
	hash uint64
}

const (
	headerV2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
	// formatV5 follows the custom format of the AWS documentation's NAT/transit examples, plus flow-direction
	// and traffic-path: deliberately not the default column order.
	headerV5 = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status flow-direction traffic-path"
)

// fileFor opens the next file when record n belongs to it. Files are named after their first record's time.
func (w *writer) rotate(r *rec) error {
	want := int(int64(w.n) * int64(w.cfg.files) / int64(max(1, w.cfg.records)))
	if w.cur != nil && want == w.file {
		return nil
	}
	if w.cur != nil {
		if err := w.cur.close(); err != nil {
			return err
		}
	}
	w.file = want
	ts := time.Unix(r.start, 0).UTC()
	ts = ts.Truncate(5 * time.Minute)
	flID := "fl-0a1b2c3d4e5f6a702"
	if w.cfg.format == "v5" {
		flID = "fl-0a1b2c3d4e5f6a705"
	}
	w.hash = splitmix(w.cfg.seed*1000003 + uint64(want))
	name := fmt.Sprintf("%s_vpcflowlogs_%s_%s_%s_%08x.log", account, region, flID, ts.Format("20060102T1504Z"), uint32(w.hash))
	if w.cfg.gzip {
		name += ".gz"
	}
	rel := filepath.Join(w.cfg.flowDir, "AWSLogs", account, "vpcflowlogs", region, ts.Format("2006/01/02"), name)
	o, err := createOut(filepath.Join(w.cfg.out, rel), w.cfg.gzip)
	if err != nil {
		return err
	}
	o.rel = filepath.ToSlash(rel)
	w.cur = o
	if w.cfg.format == "v5" {
		o.w.WriteString(headerV5 + "\n")
	} else {
		o.w.WriteString(headerV2 + "\n")
	}
	w.line = 1
	return nil
}

func (w *writer) write(r *rec) error {
	if err := w.rotate(r); err != nil {
		return err
	}
	bw := w.cur.w
	b := bw.AvailableBuffer()
	if w.cfg.format == "v5" {
		b = appendV5(b, r)
	} else {
		b = appendV2(b, r)
	}
	if _, err := bw.Write(b); err != nil {
		return err
	}
	w.n++
	w.line++
	if w.exp != nil {
		e := w.exp.w
		b := e.AvailableBuffer()
		b = appendExpect(b, w.cur.rel, w.line, r)
		if _, err := e.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) close() error {
	var err error
	if w.cur != nil {
		err = w.cur.close()
	}
	if w.exp != nil {
		err = errors.Join(err, w.exp.close())
	}
	return err
}

func appendV2(b []byte, r *rec) []byte {
	b = append(b, "2 "+account+" "...)
	b = append(b, r.eni.id...)
	if r.status != stOK {
		b = append(b, " - - - - - - -"...)
		b = timesAction(b, r)
		return b
	}
	b = append(b, ' ')
	b = append(b, r.src...)
	b = append(b, ' ')
	b = append(b, r.dst...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.sport), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.dport), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.proto), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.packets, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.bytes, 10)
	return timesAction(b, r)
}

// timesAction appends " start end action log-status\n".
func timesAction(b []byte, r *rec) []byte {
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.start, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.end, 10)
	b = append(b, ' ')
	b = append(b, actionText(r)...)
	b = append(b, ' ')
	b = append(b, statusText[r.status]...)
	return append(b, '\n')
}

var statusText = [...]string{stOK: "OK", stNoData: "NODATA", stSkipData: "SKIPDATA"}

func actionText(r *rec) string {
	switch {
	case r.status != stOK:
		return "-"
	case r.accept:
		return "ACCEPT"
	}
	return "REJECT"
}

func appendV5(b []byte, r *rec) []byte {
	e := r.eni
	b = append(b, "5 "+vpcID+" "...)
	b = append(b, e.subnet.id...)
	b = append(b, ' ')
	b = append(b, e.instanceID...)
	b = append(b, ' ')
	b = append(b, e.id...)
	b = append(b, " "+account+" "...)
	if r.status != stOK {
		// type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets
		b = append(b, "- - - - - - - - - -"...)
	} else {
		if r.v6 {
			b = append(b, "IPv6 "...)
		} else {
			b = append(b, "IPv4 "...)
		}
		b = append(b, r.src...)
		b = append(b, ' ')
		b = append(b, r.dst...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.sport), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.dport), 10)
		b = append(b, ' ')
		b = append(b, r.pktSrc...)
		b = append(b, ' ')
		b = append(b, r.pktDst...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.proto), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.bytes, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.packets, 10)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.start, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.end, 10)
	b = append(b, ' ')
	b = append(b, actionText(r)...)
	b = append(b, ' ')
	if r.status != stOK {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, int64(r.flags), 10)
	}
	b = append(b, ' ')
	b = append(b, statusText[r.status]...)
	b = append(b, ' ')
	switch {
	case r.status != stOK:
		b = append(b, '-')
	case r.egress:
		b = append(b, "egress"...)
	default:
		b = append(b, "ingress"...)
	}
	b = append(b, ' ')
	// traffic-path is logged for egress only; for a rejected packet (which took no path) flowlens's sample writes '-'.
	if r.status == stOK && r.egress && r.accept && r.path > 0 {
		b = strconv.AppendInt(b, int64(r.path), 10)
	} else {
		b = append(b, '-')
	}
	return append(b, '\n')
}

// appendExpect appends one expected.csv row (no field needs quoting: ids, numbers and single layer names).
func appendExpect(b []byte, file string, line int, r *rec) []byte {
	x := &r.exp
	b = append(b, file...)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(line), 10)
	b = append(b, ',')
	b = append(b, r.eni.id...)
	b = append(b, ',')
	if r.status == stOK {
		if r.egress {
			b = append(b, "egress"...)
		} else {
			b = append(b, "ingress"...)
		}
	}
	b = append(b, ',')
	b = append(b, x.role...)
	b = append(b, ',')
	if r.status == stOK {
		b = append(b, actionText(r)...)
	}
	for _, s := range [...]string{x.layer, x.rule, x.resource, x.cause, x.also, x.nacl, x.sg, x.scenario} {
		b = append(b, ',')
		b = append(b, s...)
	}
	return append(b, '\n')
}
