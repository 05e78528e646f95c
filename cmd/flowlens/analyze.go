package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/flowlens/flowlens/pkg/ingest"
	"github.com/flowlens/flowlens/pkg/pipeline"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/shard"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// DefaultDB is the DuckDB file analyze writes when --db is not given.
const DefaultDB = "flowlens.duckdb"

type analyzeConfig struct {
	cmdline      string // the command as given, for flowlens_runs
	topology     []string
	paths        []string
	db           string
	logFormat    string
	output       string
	workers      int
	strict       bool
	failDisagree bool
	allowFatal   bool
	admit        string
	replay       replay.Config
	shard        shard.Spec
}

// addReplayFlags binds the replay engine's tunables; the defaults are the engine's named constants.
func addReplayFlags(fs *pflag.FlagSet, c *replay.Config, admit *string) {
	fs.IntVar(&c.MaxTracked, "max-tracked", replay.DefaultMaxTracked, "bound of the connection-tracking table, in `CONNECTIONS` (all interfaces); evictions are counted and reported")
	fs.DurationVar(&c.ReorderWindow, "reorder-window", replay.DefaultReorderWindow, "how late (in record time, a `DURATION`) a record may arrive and still be replayed in order; negative: arrival order")
	fs.IntVar(&c.MaxBuffered, "max-buffered", replay.DefaultMaxBuffered, "at most `N` records held for reordering; beyond it the oldest are replayed early (counted)")
	fs.DurationVar(&c.TCPHalfOpenTimeout, "tcp-halfopen-timeout", replay.DefaultTCPHalfOpenTimeout, "idle timeout (`DURATION`) of a TCP connection before its SYN-ACK (AWS documents none)")
	fs.DurationVar(&c.TCPClosingTimeout, "tcp-closing-timeout", replay.DefaultTCPClosingTimeout, "idle timeout (`DURATION`) of a TCP connection after FIN or RST (AWS documents none)")
	fs.DurationVar(&c.ICMPTimeout, "icmp-timeout", replay.DefaultICMPTimeout, "idle timeout (`DURATION`) of ICMP tracking (AWS documents none)")
	fs.StringVar(admit, "admit", "logged", "`WHEN` a connection enters the tracking table: logged (the log says ACCEPT) or model (the model accepts it)")
}

func parseAdmit(s string) (replay.AdmitPolicy, error) {
	switch s {
	case "logged":
		return replay.AdmitLogged, nil
	case "model":
		return replay.AdmitModel, nil
	}
	return 0, usageErrorf("--admit %q: want logged or model", s)
}

func analyzeCommand() *command {
	return &command{
		name:    "analyze",
		summary: "replay flow logs through the VPC's NACLs and security groups; attribute every REJECT",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			var cfg analyzeConfig
			fs := newFlagSet(env, "analyze", "analyze --topology PATH [flags] FLOWLOG...\n\n"+
				"Ingests the flow logs (files, directories, globs, - for stdin), replays every record per interface\n"+
				"and in time order through the NACLs and security groups of the topology (AWS CLI describe-* JSON),\n"+
				"writes flows (every record with its verdict columns), rule_hits, ingest_errors and topology_* to\n"+
				"the DuckDB file, and prints a summary: REJECTs by layer, rule and cause, top rejected peers and\n"+
				"ports, unexplained records, and how often the model agrees with the log. flows is a view over\n"+
				"the tables flow_records (the records, with ids for strings and verdicts), flow_strings and verdicts.",
				"# the bundled sample: writes flowlens.duckdb and prints the summary",
				"flowlens analyze --topology samples/shop/topology samples/shop/flowlogs",
				"# a day of S3-delivered logs, a CI check that fails when the model and the logs disagree",
				"flowlens analyze --topology topology/ --db day.duckdb --fail-on-disagreement AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/",
				"# headerless logs from stdin, with the flow log's format",
				"zcat flows.log.gz | flowlens analyze --topology topology/ --log-format '${version} ${interface-id} ${srcaddr} ...' -",
				"# shard 3 of 16 (by interface, see docs/sharding.md), e.g. in a Kubernetes Indexed Job",
				"flowlens analyze --topology topology/ --shard $JOB_COMPLETION_INDEX/16 --db shard.duckdb flowlogs/")
			fs.StringArrayVar(&cfg.topology, "topology", nil, "AWS CLI JSON file or directory (`PATH`) describing the VPC (repeatable; required)")
			fs.StringVar(&cfg.db, "db", DefaultDB, "DuckDB `FILE` to write (tables are replaced atomically)")
			fs.StringVar(&cfg.logFormat, "log-format", "", "the flow log's LogFormat (`FORMAT`, e.g. '${version} ${account-id} ...') for headerless input (default: the version-2 format)")
			fs.StringVarP(&cfg.output, "output", "o", "table", "summary `FORMAT`: table or json")
			fs.IntVar(&cfg.workers, "workers", 0, "`N` parse goroutines (default: one per core)")
			fs.BoolVar(&cfg.strict, "strict", false, "exit with status 3 when any input line is bad, any file stops early or any record is on an interface the topology lacks")
			fs.BoolVar(&cfg.failDisagree, "fail-on-disagreement", false, "exit with status 3 when the model and the log disagree on any record")
			fs.BoolVar(&cfg.allowFatal, "allow-fatal-topology", false, "replay even when the topology has fatal findings")
			addReplayFlags(fs, &cfg.replay, &cfg.admit)
			shardFlag := fs.String("shard", "", "judge only the records of the interfaces in shard `INDEX/COUNT` (0-based: crc32(interface_id) % COUNT = INDEX; see docs/sharding.md); the others are left out")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if *shardFlag != "" {
				spec, err := shard.Parse(*shardFlag)
				if err != nil {
					return usageErrorf("--shard: %v", err)
				}
				cfg.shard = spec
			}
			cfg.paths, cfg.cmdline = fs.Args(), commandLine("analyze", args)
			switch {
			case len(cfg.topology) == 0:
				return usageErrorf("--topology is required (the AWS CLI JSON of the VPC; see --help)")
			case len(cfg.paths) == 0:
				return usageErrorf("no flow logs: give files, directories, globs or - for stdin")
			case cfg.output != "table" && cfg.output != "json":
				return usageErrorf("-o %q: want table or json", cfg.output)
			case cfg.db == "":
				return usageErrorf("--db must name a file")
			}
			if err := checkOutputDir("--db", cfg.db); err != nil {
				return err
			}
			admit, err := parseAdmit(cfg.admit)
			if err != nil {
				return err
			}
			cfg.replay.Admit = admit
			return runAnalyze(ctx, env, cfg)
		},
	}
}

// loadTopology loads the model and reports its findings on stderr; fatal findings stop the run unless allowed.
func loadTopology(env *cmdEnv, paths []string, allowFatal bool) (*vpc.Model, error) {
	model, err := vpc.LoadPaths(paths...)
	if err != nil {
		return nil, err
	}
	for _, f := range model.Findings {
		fmt.Fprintf(env.stderr, "topology: %s\n", f.Error())
	}
	if err := model.FatalError(); err != nil && !allowFatal {
		var fe *vpc.FatalFindingsError
		n := 0
		if errors.As(err, &fe) {
			n = len(fe.Findings)
		}
		return nil, findingsErrorf("the topology has %d fatal findings (listed above); fix them or pass --allow-fatal-topology", n)
	}
	return model, nil
}

// analyzeReport is what analyze prints (and -o json emits).
type analyzeReport struct {
	DB           string          `json:"db"`
	Ingest       ingest.Stats    `json:"ingest"`
	Replay       replay.Summary  `json:"replay"`
	TopPeers     []results.Count `json:"top_rejected_peers"`
	TopPorts     []results.Count `json:"top_rejected_ports"`
	Elapsed      time.Duration   `json:"elapsed_ns"`
	RecordsPerS  float64         `json:"records_per_second"`
	TopologyInfo string          `json:"topology"`
	Shard        string          `json:"shard,omitempty"`         // --shard's INDEX/COUNT
	ShardSkipped int64           `json:"shard_skipped,omitempty"` // records of other shards' interfaces
}

func runAnalyze(ctx context.Context, env *cmdEnv, cfg analyzeConfig) error {
	started := time.Now()
	model, err := loadTopology(env, cfg.topology, cfg.allowFatal)
	if err != nil {
		return err
	}
	progress, clearProgress := progressLine(env)
	res, err := pipeline.Analyze(ctx, pipeline.AnalyzeConfig{
		Model:    model,
		Paths:    cfg.paths,
		Ingest:   ingest.Options{LogFormat: cfg.logFormat, Workers: cfg.workers, Stdin: env.stdin},
		Replay:   cfg.replay,
		DB:       cfg.db,
		Run:      storeRun(env, "analyze", cfg.cmdline, started),
		Progress: progress,
		Shard:    cfg.shard,
	})
	clearProgress()
	if err != nil {
		return err
	}
	tc := res.Topology
	rep := analyzeReport{DB: cfg.db, Ingest: res.Ingest, Replay: res.Replay, TopPeers: res.TopRejectedPeers,
		TopPorts: res.TopRejectedPorts, Elapsed: res.Elapsed, Shard: cfg.shard.String(), ShardSkipped: res.ShardSkipped,
		TopologyInfo: fmt.Sprintf("VPCs %d, subnets %d, NACLs %d, security groups %d, interfaces %d",
			tc.VPCs, tc.Subnets, tc.NACLs, tc.Groups, tc.ENIs)}
	if rep.Elapsed > 0 {
		rep.RecordsPerS = float64(rep.Ingest.Records) / rep.Elapsed.Seconds()
	}
	if cfg.output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		writeAnalyzeSummary(env.stdout, rep)
	}
	st := rep.Ingest
	if cfg.strict && (st.BadLines > 0 || len(st.FileErrors) > 0) {
		return findingsErrorf("--strict: %d bad lines, %d files stopped early", st.BadLines, len(st.FileErrors))
	}
	if cfg.strict && rep.Replay.UnknownInterface > 0 {
		return findingsErrorf("--strict: %d records are on interfaces the topology does not have", rep.Replay.UnknownInterface)
	}
	if cfg.failDisagree && rep.Replay.Compared > rep.Replay.Agreed {
		return findingsErrorf("--fail-on-disagreement: the model and the log disagree on %d records",
			rep.Replay.Compared-rep.Replay.Agreed)
	}
	return nil
}

func writeAnalyzeSummary(w io.Writer, rep analyzeReport) {
	st, s := rep.Ingest, rep.Replay
	fmt.Fprintf(w, "flowlens analyze: %s records from %d files in %s (%s records/s)\n", humanCount(st.Records), st.Files,
		rep.Elapsed.Round(time.Millisecond), humanCount(int64(rep.RecordsPerS)))
	fmt.Fprintf(w, "topology: %s\n", rep.TopologyInfo)
	if rep.Shard != "" {
		fmt.Fprintf(w, "shard %s: replayed the %s records of this shard's interfaces; %s records of other shards' interfaces left out\n",
			rep.Shard, humanCount(rep.Replay.Records), humanCount(rep.ShardSkipped))
	}
	if s.UnknownInterface > 0 {
		fmt.Fprintf(w, "WARNING: %s of %s records (%.1f%%) are on %d interfaces the topology does not have (%s%s) and were not judged;\n"+
			"  add their describe-network-interfaces output (and their subnets', NACLs' and groups') to --topology, e.g.\n"+
			"  aws ec2 describe-network-interfaces --network-interface-ids %s > network-interfaces-more.json\n",
			humanCount(s.UnknownInterface), humanCount(s.Records), 100*float64(s.UnknownInterface)/float64(max(s.Records, 1)), s.UnknownInterfaces,
			strings.Join(s.UnknownInterfaceIDs, ", "), more(len(s.UnknownInterfaceIDs), s.UnknownInterfaces),
			strings.Join(s.UnknownInterfaceIDs, " "))
	}
	for _, r := range st.Renamed {
		fmt.Fprintf(w, "input: %s\n", r)
	}
	writeSkipped(w, "input: ", st.SkippedFiles)
	if st.ControlMessages > 0 {
		fmt.Fprintf(w, "input: %d CloudWatch Logs control messages skipped\n", st.ControlMessages)
	}
	if st.BadLines > 0 || len(st.FileErrors) > 0 {
		fmt.Fprintf(w, "input: %s bad lines (%s), %d files stopped early; see table ingest_errors\n",
			humanCount(st.BadLines), countList(st.BadByReason), len(st.FileErrors))
		for _, e := range st.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
		for _, e := range st.FileErrors {
			fmt.Fprintf(w, "  %s\n", e)
		}
		if st.SuspectLines > 0 {
			fmt.Fprintf(w, "  %s lines from damaged gzip members were judged; ingest_errors reason %s gives their ranges\n",
				humanCount(st.SuspectLines), ingest.ReasonCorruptMember)
		}
	}
	fmt.Fprintf(w, "\nmodel agrees with the log on %.2f%% of %s compared records (%s agree)\n",
		100*s.Agreement, humanCount(s.Compared), humanCount(s.Agreed))
	fmt.Fprintf(w, "  judged %s, not judged (NODATA/SKIPDATA) %s, unknown interface %s, unknown direction %s\n",
		humanCount(s.Judged), humanCount(s.NotJudged), humanCount(s.UnknownInterface), humanCount(s.UnknownDirection))
	fmt.Fprintf(w, "  logged REJECT %s, modeled REJECT %s\n", humanCount(s.LoggedReject), humanCount(s.ModelReject))

	fmt.Fprintf(w, "\nREJECTs by layer: %s\n", countList(s.RejectsByLayer))
	fmt.Fprintf(w, "REJECTs by cause: %s\n", countList(s.RejectsByCause))
	if len(s.RejectsByRule) > 0 {
		fmt.Fprintf(w, "REJECTs by rule:\n  %-14s %-40s %-14s %-22s %s\n", "LAYER", "RESOURCE", "RULE", "CAUSE", "RECORDS")
		for _, r := range s.RejectsByRule {
			fmt.Fprintf(w, "  %-14s %-40s %-14s %-22s %s\n", r.Layer, r.Resource, r.Rule, r.Cause, humanCount(r.Count))
		}
	}
	if len(rep.TopPeers) > 0 {
		fmt.Fprintf(w, "\ntop rejected peers:  %s\n", joinCounts(rep.TopPeers))
		fmt.Fprintf(w, "top rejected ports:  %s\n", joinCounts(rep.TopPorts))
	}
	if s.ICMPTypeInferred > 0 {
		fmt.Fprintf(w, "\nICMP: %s verdicts rest on an ICMP type taken from request/reply (echo request or reply; flow logs carry none); explain shows them\n",
			humanCount(s.ICMPTypeInferred))
	}
	if s.Unexplained > 0 {
		fmt.Fprintf(w, "\nunexplained: %s logged REJECTs the model allows (drift, missing topology or closed connections), e.g.\n",
			humanCount(s.Unexplained))
		for _, e := range s.UnexplainedExamples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if s.AcceptRejected > 0 {
		fmt.Fprintf(w, "\ndisagreements: %s logged ACCEPTs the model rejects, e.g.\n", humanCount(s.AcceptRejected))
		for _, e := range s.AcceptRejectedEx {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprintf(w, "\nreplay: %s late records (outside the reorder window), %s replayed early (buffer full); "+
		"conntrack peak %s of %s, %s evicted, %s untracked\n",
		humanCount(s.Late), humanCount(s.ForcedReleases), humanCount(int64(s.ConntrackPeak)), humanCount(int64(s.ConntrackMax)),
		humanCount(s.ConntrackEvictions), humanCount(s.ConntrackUntracked))
	if s.ConntrackEvictions > 0 {
		fmt.Fprintf(w, "  the tracking table was full: replies of the %s evicted connections were judged as replies whose request was\n"+
			"  not seen (conntrack-assumed), which lets them past the groups unchecked; raise --max-tracked above the peak (%s) to track them all\n",
			humanCount(s.ConntrackEvictions), humanCount(int64(s.ConntrackPeak)))
	}
	fmt.Fprintf(w, "request/reply decided by: %s\n", countList(s.Inference))
	fmt.Fprintf(w, "\nwrote %s: flows (a view of flow_records, flow_strings and verdicts), rule_hits, ingest_errors, topology_*; try\n", rep.DB)
	fmt.Fprintf(w, "  flowlens explain --db %s --action REJECT --limit 5\n", rep.DB)
}

// more is ", ..." when n examples stand for more than n things.
func more(n, total int) string {
	if n < total {
		return ", ..."
	}
	return ""
}

func joinCounts(rows []results.Count) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprintf("%s (%s)", r.Key, humanCount(r.Count))
	}
	return strings.Join(parts, ", ")
}
