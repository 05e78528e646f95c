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
	version int // flow log version that introduced the field
}

// knownFields lists every documented field in canonical (output column) order. The order is the default
// version-2 format first, then the later versions' fields in the order the AWS documentation lists them.
var knownFields = []field{
	{"version", flowschema.ColVersion, kindInt32, 2},
	{"account-id", flowschema.ColAccountID, kindString, 2},
	{"interface-id", flowschema.ColInterfaceID, kindString, 2},
	{"srcaddr", flowschema.ColSrcAddr, kindAddr, 2},
	{"dstaddr", flowschema.ColDstAddr, kindAddr, 2},
	{"srcport", flowschema.ColSrcPort, kindInt32, 2},
	{"dstport", flowschema.ColDstPort, kindInt32, 2},
	{"protocol", flowschema.ColProtocol, kindInt32, 2},
	{"packets", flowschema.ColPackets, kindInt64, 2},
	{"bytes", flowschema.ColBytes, kindInt64, 2},
	{"start", flowschema.ColStart, kindInt64, 2},
	{"end", flowschema.ColEnd, kindInt64, 2},
	{"action", flowschema.ColAction, kindAction, 2},
	{"log-status", flowschema.ColLogStatus, kindLogStatus, 2},
	{"vpc-id", flowschema.ColVPCID, kindString, 3},
	{"subnet-id", flowschema.ColSubnetID, kindString, 3},
	{"instance-id", flowschema.ColInstanceID, kindString, 3},
	{"tcp-flags", flowschema.ColTCPFlags, kindInt32, 3},
	{"type", flowschema.ColType, kindString, 3},
	{"pkt-srcaddr", flowschema.ColPktSrcAddr, kindAddr, 3},
	{"pkt-dstaddr", flowschema.ColPktDstAddr, kindAddr, 3},
	{"region", flowschema.ColRegion, kindString, 4},
	{"az-id", flowschema.ColAZID, kindString, 4},
	{"sublocation-type", flowschema.ColSublocationType, kindString, 4},
	{"sublocation-id", flowschema.ColSublocationID, kindString, 4},
	{"pkt-src-aws-service", flowschema.ColPktSrcAWSService, kindString, 5},
	{"pkt-dst-aws-service", flowschema.ColPktDstAWSService, kindString, 5},
	{"flow-direction", flowschema.ColFlowDirection, kindDirection, 5},
	{"traffic-path", flowschema.ColTrafficPath, kindInt32, 5},
	{"ecs-cluster-arn", flowschema.ColECSClusterARN, kindString, 7},
	{"ecs-cluster-name", flowschema.ColECSClusterName, kindString, 7},
	{"ecs-container-instance-arn", flowschema.ColECSContainerInstanceARN, kindString, 7},
	{"ecs-container-instance-id", flowschema.ColECSContainerInstanceID, kindString, 7},
	{"ecs-container-id", flowschema.ColECSContainerID, kindString, 7},
	{"ecs-second-container-id", flowschema.ColECSSecondContainerID, kindString, 7},
	{"ecs-service-name", flowschema.ColECSServiceName, kindString, 7},
	{"ecs-task-definition-arn", flowschema.ColECSTaskDefinitionARN, kindString, 7},
	{"ecs-task-arn", flowschema.ColECSTaskARN, kindString, 7},
	{"ecs-task-id", flowschema.ColECSTaskID, kindString, 7},
	{"reject-reason", flowschema.ColRejectReason, kindString, 8},
	{"resource-id", flowschema.ColResourceID, kindString, 8},
	{"encryption-status", flowschema.ColEncryptionStatus, kindInt32, 8},
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
