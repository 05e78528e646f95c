package vpc

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The shapes below are the parts of the AWS CLI output flowlens reads (key casing as the CLI prints it;
// encoding/json also accepts other casings). Numbers are pointers so that "absent" differs from 0.

type sgJSON struct {
	GroupId, GroupName, VpcId, OwnerId, Description string
	IpPermissions, IpPermissionsEgress              []permJSON
}

type permJSON struct {
	IpProtocol       protoField
	FromPort, ToPort *int64
	IpRanges         []struct{ CidrIp, Description string }
	Ipv6Ranges       []struct{ CidrIpv6, Description string }
	PrefixListIds    []struct{ PrefixListId, Description string }
	UserIdGroupPairs []struct {
		GroupId, GroupName, UserId, VpcId, VpcPeeringConnectionId, Description string
	}
}

type sgRuleJSON struct {
	SecurityGroupRuleId, GroupId, GroupOwnerId string
	IsEgress                                   bool
	IpProtocol                                 protoField
	FromPort, ToPort                           *int64
	CidrIpv4, CidrIpv6, PrefixListId           string
	ReferencedGroupInfo                        *struct {
		GroupId, UserId, VpcId, VpcPeeringConnectionId string
	}
	Description string
}

type naclJSON struct {
	NetworkAclId, VpcId, OwnerId string
	IsDefault                    bool
	Associations                 []struct{ NetworkAclAssociationId, NetworkAclId, SubnetId string }
	Entries                      []naclEntryJSON
}

type naclEntryJSON struct {
	RuleNumber               *int64
	Protocol                 protoField
	RuleAction               string
	Egress                   bool
	CidrBlock, Ipv6CidrBlock string
	PortRange                *struct{ From, To *int64 }
	IcmpTypeCode             *struct{ Type, Code *int64 }
}

type eniJSON struct {
	NetworkInterfaceId, SubnetId, VpcId, OwnerId string
	PrivateIpAddress                             string
	PrivateIpAddresses                           []struct {
		PrivateIpAddress string
		Primary          bool
		Association      *struct{ PublicIp string }
	}
	Ipv6Addresses []struct {
		Ipv6Address   string
		IsPrimaryIpv6 bool
	}
	Association   *struct{ PublicIp string }
	Groups        []struct{ GroupId, GroupName string }
	InterfaceType string
	Description   string
	Attachment    *struct{ InstanceId string }
	// ConnectionTrackingConfiguration timeouts are in seconds.
	ConnectionTrackingConfiguration *struct {
		TcpEstablishedTimeout, UdpStreamTimeout, UdpTimeout *int64
	}
}

type subnetJSON struct {
	SubnetId, VpcId, OwnerId, CidrBlock, AvailabilityZone string
	Ipv6CidrBlockAssociationSet                           []struct {
		Ipv6CidrBlock      string
		Ipv6CidrBlockState *struct{ State string }
	}
}

type prefixListJSON struct {
	PrefixListId, PrefixListName, AddressFamily, OwnerId string
}

type prefixListEntryJSON struct {
	Cidr, Description string
}

// protoField is a protocol as AWS prints it: a string ("-1", "6", "tcp"); a bare JSON number is accepted too.
type protoField string

func (p *protoField) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = protoField(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("protocol must be a string or a number, got %s", truncate(string(b), 40))
	}
	*p = protoField(n.String())
	return nil
}

// parseProto turns an AWS protocol (name or number, "-1"/"all") into ProtoAll or an IANA number.
func parseProto(s string) (int16, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "-1", "all":
		return ProtoAll, nil
	case "tcp":
		return ProtoTCP, nil
	case "udp":
		return ProtoUDP, nil
	case "icmp":
		return ProtoICMP, nil
	case "icmpv6":
		return ProtoICMPv6, nil
	case "":
		return 0, fmt.Errorf("no protocol")
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("protocol %q is not a name (tcp, udp, icmp, icmpv6), -1 or a number 0-255", truncate(s, 40))
	}
	return int16(n), nil
}

// protoName renders a protocol for Display strings and tables.
func protoName(p int16) string {
	switch p {
	case ProtoAll:
		return "all"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmpv6"
	}
	return "proto " + strconv.Itoa(int(p))
}

// parseCIDR parses a CIDR and masks it; canonical is false when the input had host bits set.
func parseCIDR(s string) (p netip.Prefix, canonical bool, err error) {
	p, err = netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, false, err
	}
	m := p.Masked()
	return m, m == p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
