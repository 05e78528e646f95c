// Package ingest parses AWS VPC Flow Log records (text, gzip, Parquet; any documented version and custom
// field order) into Apache Arrow record batches, counting and reporting every line it cannot use.
package ingest

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/flowlens/flowlens/pkg/flowschema"
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
		return flowschema.ActionValues
	case kindLogStatus:
		return flowschema.LogStatusValues
	case kindDirection:
		return flowschema.DirectionValues
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
	{"version", flowschema.ColVersion, kindInt32, 2, rangeVersion},
	{"account-id", flowschema.ColAccountID, kindString, 2, nil},
	{"interface-id", flowschema.ColInterfaceID, kindString, 2, nil},
	{"srcaddr", flowschema.ColSrcAddr, kindAddr, 2, nil},
	{"dstaddr", flowschema.ColDstAddr, kindAddr, 2, nil},
	{"srcport", flowschema.ColSrcPort, kindInt32, 2, rangePort},
	{"dstport", flowschema.ColDstPort, kindInt32, 2, rangePort},
	{"protocol", flowschema.ColProtocol, kindInt32, 2, rangeProtocol},
	{"packets", flowschema.ColPackets, kindInt64, 2, nil},
	{"bytes", flowschema.ColBytes, kindInt64, 2, nil},
	{"start", flowschema.ColStart, kindInt64, 2, nil},
	{"end", flowschema.ColEnd, kindInt64, 2, nil},
	{"action", flowschema.ColAction, kindAction, 2, nil},
	{"log-status", flowschema.ColLogStatus, kindLogStatus, 2, nil},
	{"vpc-id", flowschema.ColVPCID, kindString, 3, nil},
	{"subnet-id", flowschema.ColSubnetID, kindString, 3, nil},
	{"instance-id", flowschema.ColInstanceID, kindString, 3, nil},
	{"tcp-flags", flowschema.ColTCPFlags, kindInt32, 3, rangeTCPFlags},
	{"type", flowschema.ColType, kindString, 3, nil},
	{"pkt-srcaddr", flowschema.ColPktSrcAddr, kindAddr, 3, nil},
	{"pkt-dstaddr", flowschema.ColPktDstAddr, kindAddr, 3, nil},
	{"region", flowschema.ColRegion, kindString, 4, nil},
	{"az-id", flowschema.ColAZID, kindString, 4, nil},
	{"sublocation-type", flowschema.ColSublocationType, kindString, 4, nil},
	{"sublocation-id", flowschema.ColSublocationID, kindString, 4, nil},
	{"pkt-src-aws-service", flowschema.ColPktSrcAWSService, kindString, 5, nil},
	{"pkt-dst-aws-service", flowschema.ColPktDstAWSService, kindString, 5, nil},
	{"flow-direction", flowschema.ColFlowDirection, kindDirection, 5, nil},
	{"traffic-path", flowschema.ColTrafficPath, kindInt32, 5, rangeTraffic},
	{"ecs-cluster-arn", flowschema.ColECSClusterARN, kindString, 7, nil},
	{"ecs-cluster-name", flowschema.ColECSClusterName, kindString, 7, nil},
	{"ecs-container-instance-arn", flowschema.ColECSContainerInstanceARN, kindString, 7, nil},
	{"ecs-container-instance-id", flowschema.ColECSContainerInstanceID, kindString, 7, nil},
	{"ecs-container-id", flowschema.ColECSContainerID, kindString, 7, nil},
	{"ecs-second-container-id", flowschema.ColECSSecondContainerID, kindString, 7, nil},
	{"ecs-service-name", flowschema.ColECSServiceName, kindString, 7, nil},
	{"ecs-task-definition-arn", flowschema.ColECSTaskDefinitionARN, kindString, 7, nil},
	{"ecs-task-arn", flowschema.ColECSTaskARN, kindString, 7, nil},
	{"ecs-task-id", flowschema.ColECSTaskID, kindString, 7, nil},
	{"reject-reason", flowschema.ColRejectReason, kindString, 8, nil},
	{"resource-id", flowschema.ColResourceID, kindString, 8, nil},
	{"encryption-status", flowschema.ColEncryptionStatus, kindInt32, 8, rangeEncryption},
}

// DefaultLogFormat is the version-2 default format AWS uses when a flow log names no custom format.
const DefaultLogFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} " +
	"${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

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
