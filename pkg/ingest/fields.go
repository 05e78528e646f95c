// Package ingest parses AWS VPC Flow Log records (text, gzip, Parquet; any documented version and custom
// field order) into Apache Arrow record batches, counting and reporting every line it cannot use.
package ingest

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// kind says how a field's text is parsed and which Arrow type holds it.
type kind uint8

const (
	kindString    kind = iota // any printable token
	kindInt32                 // decimal, fits int32
	kindInt64                 // decimal, fits int64
	kindAddr                  // IPv4 or IPv6 address, kept as its text
	kindAction                // ACCEPT | REJECT
	kindLogStatus             // OK | NODATA | SKIPDATA
	kindDirection             // ingress | egress
)

func (k kind) arrowType() arrow.DataType {
	switch k {
	case kindInt32:
		return arrow.PrimitiveTypes.Int32
	case kindInt64:
		return arrow.PrimitiveTypes.Int64
	default:
		return arrow.BinaryTypes.String
	}
}

// values lists every value a kind accepts (the parser rejects the rest), or nil for open kinds. Sinks may
// store such columns as enumerations.
func (k kind) values() []string {
	switch k {
	case kindAction:
		return []string{"ACCEPT", "REJECT"}
	case kindLogStatus:
		return []string{"OK", "NODATA", "SKIPDATA"}
	case kindDirection:
		return []string{"ingress", "egress"}
	}
	return nil
}

// field is one documented flow log field.
type field struct {
	logName string // as in a LogFormat string and a text header: "account-id"
	column  string // Athena column name: "account_id"
	kind    kind
	version int         // flow log version that introduced the field
	rng     *valueRange // a numeric field's documented range; nil: all its column type holds (non-negative)
}

// valueRange is the documented range of a numeric field, inclusive. A number outside it is a bad line
// (ReasonOutOfRange); a number its column type cannot hold is ReasonBadNumber.
type valueRange struct{ lo, hi int64 }

// The documented ranges ([FL] in the flow log records documentation): ports are 16-bit, the protocol is
// an IANA number (8 bits), tcp-flags is the TCP header's flag byte OR-ed over the interval (AWS logs FIN 1,
// SYN 2, RST 4, PSH 8, ACK 16 (SYN-ACK 18), URG 32; any other bit is impossible in a byte but not
// documented as absent, so the byte's range is kept), traffic-path is 1..8, encryption-status 0..3, and
// version is a documented version, 2 through maxVersion.
var (
	rangePort       = &valueRange{0, 65535}
	rangeProtocol   = &valueRange{0, 255}
	rangeVersion    = &valueRange{2, maxVersion}
	rangeTCPFlags   = &valueRange{0, 255}
	rangeTraffic    = &valueRange{1, 8}
	rangeEncryption = &valueRange{0, 3}
)

// maxVersion is the highest flow log version AWS documents (reject-reason, resource-id and
// encryption-status came with version 8). A record claiming a later version is out of range: raise this
// when AWS documents one.
const maxVersion = 8

// bounds returns the inclusive range a field's values must lie in.
func (f field) bounds() valueRange {
	switch {
	case f.rng != nil:
		return *f.rng
	case f.kind == kindInt32:
		return valueRange{0, 1<<31 - 1}
	default:
		return valueRange{0, 1<<63 - 1}
	}
}

// knownFields lists every documented field in canonical (output column) order. The order is the default
// version-2 format first, then the later versions' fields in the order the AWS documentation lists them.
var knownFields = []field{
	{"version", "version", kindInt32, 2, rangeVersion},
	{"account-id", "account_id", kindString, 2, nil},
	{"interface-id", "interface_id", kindString, 2, nil},
	{"srcaddr", "srcaddr", kindAddr, 2, nil},
	{"dstaddr", "dstaddr", kindAddr, 2, nil},
	{"srcport", "srcport", kindInt32, 2, rangePort},
	{"dstport", "dstport", kindInt32, 2, rangePort},
	{"protocol", "protocol", kindInt32, 2, rangeProtocol},
	{"packets", "packets", kindInt64, 2, nil},
	{"bytes", "bytes", kindInt64, 2, nil},
	{"start", "start", kindInt64, 2, nil},
	{"end", "end", kindInt64, 2, nil},
	{"action", "action", kindAction, 2, nil},
	{"log-status", "log_status", kindLogStatus, 2, nil},
	{"vpc-id", "vpc_id", kindString, 3, nil},
	{"subnet-id", "subnet_id", kindString, 3, nil},
	{"instance-id", "instance_id", kindString, 3, nil},
	{"tcp-flags", "tcp_flags", kindInt32, 3, rangeTCPFlags},
	{"type", "type", kindString, 3, nil},
	{"pkt-srcaddr", "pkt_srcaddr", kindAddr, 3, nil},
	{"pkt-dstaddr", "pkt_dstaddr", kindAddr, 3, nil},
	{"region", "region", kindString, 4, nil},
	{"az-id", "az_id", kindString, 4, nil},
	{"sublocation-type", "sublocation_type", kindString, 4, nil},
	{"sublocation-id", "sublocation_id", kindString, 4, nil},
	{"pkt-src-aws-service", "pkt_src_aws_service", kindString, 5, nil},
	{"pkt-dst-aws-service", "pkt_dst_aws_service", kindString, 5, nil},
	{"flow-direction", "flow_direction", kindDirection, 5, nil},
	{"traffic-path", "traffic_path", kindInt32, 5, rangeTraffic},
	{"ecs-cluster-arn", "ecs_cluster_arn", kindString, 7, nil},
	{"ecs-cluster-name", "ecs_cluster_name", kindString, 7, nil},
	{"ecs-container-instance-arn", "ecs_container_instance_arn", kindString, 7, nil},
	{"ecs-container-instance-id", "ecs_container_instance_id", kindString, 7, nil},
	{"ecs-container-id", "ecs_container_id", kindString, 7, nil},
	{"ecs-second-container-id", "ecs_second_container_id", kindString, 7, nil},
	{"ecs-service-name", "ecs_service_name", kindString, 7, nil},
	{"ecs-task-definition-arn", "ecs_task_definition_arn", kindString, 7, nil},
	{"ecs-task-arn", "ecs_task_arn", kindString, 7, nil},
	{"ecs-task-id", "ecs_task_id", kindString, 7, nil},
	{"reject-reason", "reject_reason", kindString, 8, nil},
	{"resource-id", "resource_id", kindString, 8, nil},
	{"encryption-status", "encryption_status", kindInt32, 8, rangeEncryption},
}

// DefaultLogFormat is the version-2 default format AWS uses when a flow log names no custom format.
const DefaultLogFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} " +
	"${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// Column names of the provenance columns every batch ends with.
const (
	ColSourceFile = "source_file"
	ColSourceLine = "source_line"
)

var fieldByName = func() map[string]int {
	m := make(map[string]int, 2*len(knownFields))
	for i, f := range knownFields {
		m[f.logName] = i
		m[f.column] = i
	}
	return m
}()

// lookupField finds a documented field by its log name ("log-status"), its column name ("log_status") or
// the Parquet spelling of either; ok is false for a field flowlens does not know.
func lookupField(name string) (int, bool) {
	i, ok := fieldByName[name]
	if !ok {
		i, ok = fieldByName[strings.ToLower(strings.ReplaceAll(name, "_", "-"))]
	}
	return i, ok
}

// columnName turns an unknown field's log name into a column name the way Athena users spell them.
func columnName(logName string) string {
	return strings.ReplaceAll(logName, "-", "_")
}
