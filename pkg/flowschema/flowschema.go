// Package flowschema names the columns and tables flowlens's stages hand to each other.
//
// Every stage imports it and none owns it: pkg/ingest produces the flow-log columns named here, pkg/replay reads
// them and adds the verdict columns named here, pkg/results and pkg/store write the tables named here. The
// value sets of the verdict columns (layers, causes, ...) are replay's vocabulary and stay in pkg/replay.
// docs/flows-schema.md describes the flow-log columns.
package flowschema

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Flow-log columns, under their Athena names, in ingest's canonical order (the default version-2 fields first,
// then the later versions' in the order the AWS documentation lists them). All are nullable; "-" in the log
// is NULL.
const (
	ColVersion                 = "version"
	ColAccountID               = "account_id"
	ColInterfaceID             = "interface_id"
	ColSrcAddr                 = "srcaddr"
	ColDstAddr                 = "dstaddr"
	ColSrcPort                 = "srcport"
	ColDstPort                 = "dstport"
	ColProtocol                = "protocol"
	ColPackets                 = "packets"
	ColBytes                   = "bytes"
	ColStart                   = "start"
	ColEnd                     = "end"
	ColAction                  = "action"     // ActionValues
	ColLogStatus               = "log_status" // LogStatusValues
	ColVPCID                   = "vpc_id"
	ColSubnetID                = "subnet_id"
	ColInstanceID              = "instance_id"
	ColTCPFlags                = "tcp_flags"
	ColType                    = "type"
	ColPktSrcAddr              = "pkt_srcaddr"
	ColPktDstAddr              = "pkt_dstaddr"
	ColRegion                  = "region"
	ColAZID                    = "az_id"
	ColSublocationType         = "sublocation_type"
	ColSublocationID           = "sublocation_id"
	ColPktSrcAWSService        = "pkt_src_aws_service"
	ColPktDstAWSService        = "pkt_dst_aws_service"
	ColFlowDirection           = "flow_direction" // DirectionValues
	ColTrafficPath             = "traffic_path"
	ColECSClusterARN           = "ecs_cluster_arn"
	ColECSClusterName          = "ecs_cluster_name"
	ColECSContainerInstanceARN = "ecs_container_instance_arn"
	ColECSContainerInstanceID  = "ecs_container_instance_id"
	ColECSContainerID          = "ecs_container_id"
	ColECSSecondContainerID    = "ecs_second_container_id"
	ColECSServiceName          = "ecs_service_name"
	ColECSTaskDefinitionARN    = "ecs_task_definition_arn"
	ColECSTaskARN              = "ecs_task_arn"
	ColECSTaskID               = "ecs_task_id"
	ColRejectReason            = "reject_reason" // RejectReasonBPA or NULL
	ColResourceID              = "resource_id"
	ColEncryptionStatus        = "encryption_status"
)

// Provenance columns: every ingest batch ends with them.
const (
	ColSourceFile = "source_file" // the input's path ("-" for stdin), of type SourceFileType, never NULL
	ColSourceLine = "source_line" // Int64: 1-based line of the decompressed text (header = line 1); Parquet: 1-based row
)

// SourceFileType is the Arrow type of source_file: a dictionary whose one entry per batch is the batch's file
// (every index 0), so a path is stored once per batch rather than once per row. The field also lists every
// input path as its enumeration metadata (arrowutil.EnumField), so a sink may store it as an enumeration.
var SourceFileType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// IPv4Suffix ends the names of the columns that hold an address column's IPv4 number (ingest's
// Options.IPv4Numbers): srcaddr's is srcaddr_ipv4. They are for the replay, not for storage.
const IPv4Suffix = "_ipv4"

// IPv4Type is the Arrow type of an IPv4-number column: the address as a big-endian number (10.0.0.1 is
// 0x0a000001) when it is dotted-quad IPv4, else 0 (NULL, IPv6, and 0.0.0.0 itself). Never NULL.
var IPv4Type = arrow.PrimitiveTypes.Uint32

// IPv4Col names the IPv4-number column of the address column addr ("srcaddr" -> "srcaddr_ipv4").
func IPv4Col(addr string) string { return addr + IPv4Suffix }

// IsIPv4Col reports whether name is an IPv4-number column's (IPv4Col).
func IsIPv4Col(name string) bool { return strings.HasSuffix(name, IPv4Suffix) }

// Values of the enumerated flow-log columns: ingest rejects anything else as a bad line (a NULL, "-", is
// accepted), and declares the sets on the fields so that a sink may store them as enumerations.
const (
	ActionAccept = "ACCEPT"
	ActionReject = "REJECT"

	LogStatusOK       = "OK"
	LogStatusNoData   = "NODATA"
	LogStatusSkipData = "SKIPDATA"

	DirectionIngress = "ingress"
	DirectionEgress  = "egress"
)

// The value sets of action, log_status and flow_direction, in the order the enumerations list them. Do not
// modify them.
var (
	ActionValues    = []string{ActionAccept, ActionReject}
	LogStatusValues = []string{LogStatusOK, LogStatusNoData, LogStatusSkipData}
	DirectionValues = []string{DirectionIngress, DirectionEgress}
)

// RejectReasonBPA is the reject_reason of a record that VPC Block Public Access rejected. The column is open:
// ingest accepts any value.
const RejectReasonBPA = "BPA"

// ColVerdictID is the column the replay appends to the flow-log columns: the row's verdict, an index into the
// verdict table (VerdictsTable), whose other columns are the Col* below. Uint32, never NULL.
const ColVerdictID = "verdict_id"

// Columns of the verdict table besides verdict_id, in the table's order. All are Utf8 except model_agrees
// (Boolean); a value that does not apply is NULL. pkg/replay declares their value sets.
const (
	ColDirection       = "direction"        // ingress | egress (DirectionValues)
	ColModelAction     = "model_action"     // ACCEPT | REJECT (ActionValues); NULL when not judged
	ColModelAgrees     = "model_agrees"     // model_action = action
	ColVerdictLayer    = "verdict_layer"    // REJECT: nacl-inbound | nacl-outbound | sg-inbound | sg-outbound | bpa
	ColVerdictRule     = "verdict_rule"     // REJECT: NACL rule number text, or implicit-deny (SG)
	ColVerdictResource = "verdict_resource" // REJECT: acl- id, the ENI's sg- ids (comma-separated), or the vpc- id (bpa)
	ColVerdictAlso     = "verdict_also"     // REJECT: other layers that would also have blocked, comma-separated
	ColVerdictCause    = "verdict_cause"    // see replay.Cause
	ColNACLID          = "nacl_id"          // the NACL the packet met (NULL: same subnet)
	ColNACLRule        = "nacl_rule"        // its deciding entry's rule number (allow or deny)
	ColSGRule          = "sg_rule"          // the allowing SG rule id, conntrack, or conntrack-assumed
	ColFlowRole        = "flow_role"        // request | reply
	ColInitiator       = "initiator"        // how flow_role was decided: conntrack | tcp-flags | ports | order
	ColVerdictSteps    = "verdict_steps"    // the packet's walk through the layers: a JSON array of replay.StepRecord in packet order
)

// Tables and views flowlens writes. The replayed (or only ingested) records are stored as FlowRecordsTable,
// with every repeating string column as an id into FlowStringsTable and the verdict as a ColVerdictID into
// VerdictsTable; FlowsView looks the ids up and gives the flows users query: every input column, then the
// verdict columns, one row per record.
const (
	FlowsView        = "flows"
	FlowRecordsTable = "flow_records"
	FlowStringsTable = "flow_strings"
	VerdictsTable    = "verdicts"

	RuleHitsTable     = "rule_hits"     // one row per NACL entry and security group rule of the topology
	IngestErrorsTable = "ingest_errors" // every bad line and every file that stopped early

	// The loaded topology.
	TopologySubnetsTable        = "topology_subnets"
	TopologyENIsTable           = "topology_enis"
	TopologySecurityGroupsTable = "topology_security_groups"
	TopologySGRulesTable        = "topology_sg_rules"
	TopologyNACLEntriesTable    = "topology_nacl_entries"
	TopologyFindingsTable       = "topology_findings"

	// ShardTable is written by a sharded analyze (--shard i/N): one row, ColShard INTEGER (i) and ColShards
	// INTEGER (N). A run that is not sharded removes it.
	ShardTable = "flowlens_shard"

	// RunsTable gets one row per table or view of each run that wrote the file (pkg/store.WriteRun):
	// run_id BIGINT, started TIMESTAMP, finished TIMESTAMP, command VARCHAR, table_name VARCHAR, row_count
	// BIGINT (NULL for a view). Times are UTC.
	RunsTable = "flowlens_runs"
)

// Columns of ShardTable; ColShard is also the partition column of a sharded export.
const (
	ColShard  = "shard"
	ColShards = "shards"
)

// What a later run needs besides the flows to replay them again (audit): analyze writes both.
const (
	// TopologyFilesTable holds the AWS CLI JSON the analyze loaded, byte for byte (vpc.Model.InputFiles):
	// file VARCHAR (the name as loaded), content BLOB (a BLOB, not text, since a file may be UTF-16 with a
	// byte-order mark; decode(content) shows UTF-8 ones). vpc.Load of these rebuilds the analyze's model.
	TopologyFilesTable = "topology_files"
	// ReplaySettingsTable holds the replay's configuration: setting VARCHAR, value VARCHAR (durations as Go
	// durations, "10m0s"; 0 means the default).
	ReplaySettingsTable = "replay_settings"
)

// Tables an audit writes (the recorded flows replayed against a candidate policy; pkg/audit).
const (
	AuditSummaryTable  = "audit_summary"  // one row: the run, its counts, coverage and exposure
	AuditVerdictsTable = "audit_verdicts" // one row per distinct (baseline verdict, candidate verdict, logged action), with counts
	AuditGroupsTable   = "audit_groups"   // one row per would-break and newly-allowed group
	AuditRecordsTable  = "audit_records"  // one row per record that would break or is newly allowed: source_file, source_line, group
)

// Tables a recommend writes (pkg/recommend: Recommendation.Tables).
const (
	RecommendSummaryTable  = "recommend_summary"  // one row: the window, the counts, exposure, the recommendation as JSON
	RecommendRulesTable    = "recommend_rules"    // one row per proposed, kept or unproven SG rule and NACL entry, with evidence
	RecommendFindingsTable = "recommend_findings" // one row per finding on the current configuration or the proposal
)
