package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// The scenario's fixed identifiers. They do not depend on -seed, so every generated data set shares them.
const (
	account   = "123456789012"
	region    = "us-east-1"
	vpcID     = "vpc-0a1b2c3d4e5f60001"
	vpcCIDR   = "10.20.0.0/16"
	vpcCIDR6  = "2600:1f18:1234:5600::/56"
	s3PL      = "pl-63a5400a" // com.amazonaws.us-east-1.s3
	ddbPL     = "pl-02cd2c6b" // com.amazonaws.us-east-1.dynamodb (listed, unused)
	attachAt  = "2026-10-02T09:14:27+00:00"
	bastionIP = "192.0.2.10" // documentation range, stands for the bastion's Elastic IP
)

// s3Ranges are the entries of the S3 managed prefix list (the real us-east-1 list, trimmed).
var s3Ranges = []string{"3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "52.216.0.0/15", "54.231.0.0/16"}

// Tier indexes.
const (
	tierWeb = iota
	tierApp
	tierMgmt
	tierDB
	numTiers
)

type subnet struct {
	id, name, az, cidr, cidr6 string
	prefix                    netip.Prefix
	nacl                      *nacl
	assocID                   string
}

type nacl struct {
	id, name  string
	isDefault bool
	entries   []naclEntry
	subnets   []*subnet
}

// naclEntry mirrors one describe-network-acls entry.
type naclEntry struct {
	rule     int
	egress   bool
	allow    bool
	proto    string // "-1", "6", ...
	cidr     string // IPv4 CidrBlock or IPv6 Ipv6CidrBlock
	from, to int    // port range; 0,0 = no PortRange
}

type group struct {
	id, name, desc string
	ingress        []perm
	egress         []perm
}

// perm mirrors one IpPermissions element; exactly one peer list is used per perm here.
type perm struct {
	proto    string
	from, to int // -1,-1 with proto "-1": FromPort/ToPort absent
	cidrs    []string
	cidrs6   []string
	pls      []string
	groups   []string
	desc     string
}

type eni struct {
	id, instanceID, name, mac string
	tier                      int
	subnet                    *subnet
	group                     *group
	primary                   string // primary private IPv4, rendered
	secondary                 string // "" when none
	ipv6                      string // "" when none
	publicIP                  string // "" when none
	publicIP2                 string // public IP of the secondary address
	phase                     int64  // aggregation window offset, seconds
}

type topology struct {
	subnets                                  [numTiers]*subnet
	nacls                                    []*nacl // web, app, default
	groups                                   map[string]*group
	tiers                                    [numTiers][]*eni
	enis                                     []*eni
	v6ENIs                                   []*eni // web ENIs with an IPv6 address
	naclWeb, naclApp, naclDef                *nacl
	sgWeb, sgApp, sgDB, sgBastion, sgDefault *group
}

// hexID renders a deterministic 17-hex-digit AWS-style id suffix ("0" + 16 digits) from a kind and index.
func hexID(kind string, i int) string {
	h := uint64(1469598103934665603)
	for _, c := range []byte(kind) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return fmt.Sprintf("0%016x", splitmix(h+uint64(i)*0x9e3779b97f4a7c15))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// tierSizes spreads m ENIs over the tiers in the proportions of the 9-ENI sample (3 web, 3 app, 1 bastion, 2 db).
func tierSizes(m int) [numTiers]int {
	var n [numTiers]int
	n[tierMgmt] = max(1, (m+4)/9)
	n[tierDB] = max(1, (2*m+4)/9)
	n[tierApp] = max(1, (3*m+4)/9)
	n[tierWeb] = max(1, m-n[tierMgmt]-n[tierDB]-n[tierApp])
	return n
}

// maxPerTier bounds each tier so that addresses stay inside its /24 (.10-.254, web secondaries included).
const maxPerTier = 180

func buildTopology(m int) (*topology, error) {
	sizes := tierSizes(m)
	for _, n := range sizes {
		if n > maxPerTier {
			return nil, fmt.Errorf("-enis %d: %d ENIs in one /24 subnet (max %d); use -enis <= %d", m, n, maxPerTier, 3*maxPerTier)
		}
	}
	tp := &topology{groups: make(map[string]*group)}
	mk := func(t int, name, az, cidr, cidr6 string) {
		tp.subnets[t] = &subnet{id: "subnet-0a1b2c3d4e5f6100" + string(rune('1'+t)), name: name, az: az, cidr: cidr, cidr6: cidr6,
			prefix: netip.MustParsePrefix(cidr), assocID: "aclassoc-0a1b2c3d4e5f6400" + string(rune('1'+t))}
	}
	mk(tierWeb, "shop-web", "us-east-1a", "10.20.1.0/24", "2600:1f18:1234:5601::/64")
	mk(tierApp, "shop-app", "us-east-1a", "10.20.2.0/24", "")
	mk(tierMgmt, "shop-mgmt", "us-east-1a", "10.20.3.0/24", "")
	mk(tierDB, "shop-db", "us-east-1b", "10.20.4.0/24", "")

	tcp := func(rule int, egress bool, cidr string, from, to int) naclEntry {
		return naclEntry{rule: rule, egress: egress, allow: true, proto: "6", cidr: cidr, from: from, to: to}
	}
	stars := []naclEntry{
		{rule: 32767, egress: true, proto: "-1", cidr: "0.0.0.0/0"},
		{rule: 32768, egress: true, proto: "-1", cidr: "::/0"},
		{rule: 32767, proto: "-1", cidr: "0.0.0.0/0"},
		{rule: 32768, proto: "-1", cidr: "::/0"},
	}
	tp.naclWeb = &nacl{id: "acl-0a1b2c3d4e5f62001", name: "shop-web", entries: []naclEntry{
		{rule: 100, egress: true, allow: true, proto: "-1", cidr: "0.0.0.0/0"},
		{rule: 101, egress: true, allow: true, proto: "-1", cidr: "::/0"},
		{rule: 50, proto: "-1", cidr: "198.51.100.0/24"},
		tcp(100, false, "0.0.0.0/0", 443, 443),
		// Rule numbers are unique per direction across both families, so the IPv6 HTTPS entry cannot be 100.
		tcp(105, false, "::/0", 443, 443),
		tcp(110, false, "0.0.0.0/0", 80, 80),
		tcp(120, false, "0.0.0.0/0", 1024, 65535),
		tcp(130, false, "10.20.3.0/24", 22, 22),
	}}
	tp.naclApp = &nacl{id: "acl-0a1b2c3d4e5f62002", name: "shop-app", entries: []naclEntry{
		tcp(100, true, "10.20.4.0/24", 5432, 5432),
		tcp(110, true, "0.0.0.0/0", 443, 443),
		tcp(120, true, "10.20.1.0/24", 32768, 61000),
		tcp(100, false, "10.20.1.0/24", 8080, 8080),
		tcp(110, false, "10.20.3.0/24", 22, 22),
		tcp(120, false, "10.20.0.0/16", 1024, 65535),
		tcp(130, false, "0.0.0.0/0", 1024, 65535),
	}}
	tp.naclDef = &nacl{id: "acl-0a1b2c3d4e5f62000", isDefault: true, entries: []naclEntry{
		{rule: 100, egress: true, allow: true, proto: "-1", cidr: "0.0.0.0/0"},
		{rule: 101, egress: true, allow: true, proto: "-1", cidr: "::/0"},
		{rule: 100, allow: true, proto: "-1", cidr: "0.0.0.0/0"},
		{rule: 101, allow: true, proto: "-1", cidr: "::/0"},
	}}
	for _, n := range []*nacl{tp.naclWeb, tp.naclApp, tp.naclDef} {
		n.entries = append(n.entries, stars...)
	}
	tp.nacls = []*nacl{tp.naclWeb, tp.naclApp, tp.naclDef}
	assoc := func(n *nacl, s *subnet) { s.nacl = n; n.subnets = append(n.subnets, s) }
	assoc(tp.naclWeb, tp.subnets[tierWeb])
	assoc(tp.naclApp, tp.subnets[tierApp])
	assoc(tp.naclDef, tp.subnets[tierMgmt])
	assoc(tp.naclDef, tp.subnets[tierDB])

	tp.sgWeb = &group{id: "sg-0a1b2c3d4e5f63001", name: "shop-web", desc: "shop web tier"}
	tp.sgApp = &group{id: "sg-0a1b2c3d4e5f63002", name: "shop-app", desc: "shop application tier"}
	tp.sgDB = &group{id: "sg-0a1b2c3d4e5f63003", name: "shop-db", desc: "shop PostgreSQL"}
	tp.sgBastion = &group{id: "sg-0a1b2c3d4e5f63004", name: "shop-bastion", desc: "SSH bastion"}
	tp.sgDefault = &group{id: "sg-0a1b2c3d4e5f63000", name: "default", desc: "default VPC security group"}
	// The order of permissions and peers fixes the loader's rule ids (sg-.../ingress/N); ruleIDs below must agree.
	tp.sgWeb.ingress = []perm{
		{proto: "tcp", from: 443, to: 443, cidrs: []string{"0.0.0.0/0"}, cidrs6: []string{"::/0"}, desc: "HTTPS"},
		{proto: "tcp", from: 80, to: 80, cidrs: []string{"0.0.0.0/0"}, desc: "HTTP redirect"},
		{proto: "tcp", from: 22, to: 22, groups: []string{tp.sgBastion.id}, desc: "SSH from bastion"},
	}
	tp.sgWeb.egress = []perm{
		{proto: "tcp", from: 8080, to: 8080, groups: []string{tp.sgApp.id}, desc: "to app"},
		{proto: "tcp", from: 443, to: 443, pls: []string{s3PL}, desc: "S3 via gateway endpoint"},
	}
	tp.sgApp.ingress = []perm{
		{proto: "tcp", from: 8080, to: 8080, groups: []string{tp.sgWeb.id}, desc: "from web"},
		{proto: "tcp", from: 22, to: 22, groups: []string{tp.sgBastion.id}, desc: "SSH from bastion"},
	}
	tp.sgApp.egress = []perm{
		{proto: "tcp", from: 5432, to: 5432, groups: []string{tp.sgDB.id}, desc: "to PostgreSQL"},
		{proto: "tcp", from: 443, to: 443, cidrs: []string{"0.0.0.0/0"}, desc: "HTTPS APIs"},
	}
	tp.sgDB.ingress = []perm{{proto: "tcp", from: 5432, to: 5432, groups: []string{tp.sgApp.id}, desc: "from app"}}
	tp.sgBastion.ingress = []perm{{proto: "tcp", from: 22, to: 22, cidrs: []string{"203.0.113.0/24"}, desc: "admins"}}
	tp.sgBastion.egress = []perm{{proto: "-1", from: -1, to: -1, cidrs: []string{"0.0.0.0/0"}}}
	tp.sgDefault.ingress = []perm{{proto: "-1", from: -1, to: -1, groups: []string{tp.sgDefault.id}}}
	tp.sgDefault.egress = []perm{{proto: "-1", from: -1, to: -1, cidrs: []string{"0.0.0.0/0"}}}
	for _, g := range []*group{tp.sgDefault, tp.sgWeb, tp.sgApp, tp.sgDB, tp.sgBastion} {
		tp.groups[g.id] = g
	}

	tierGroup := [numTiers]*group{tp.sgWeb, tp.sgApp, tp.sgBastion, tp.sgDB}
	tierName := [numTiers]string{"web", "app", "bastion", "db"}
	idx := 0
	for t := range numTiers {
		s := tp.subnets[t]
		base := s.prefix.Addr().As4()
		next := 10
		alloc := func() string {
			a := base
			a[3] = byte(next)
			next++
			return netip.AddrFrom4(a).String()
		}
		for i := range sizes[t] {
			e := &eni{
				id:         "eni-" + hexID("eni", idx),
				instanceID: "i-" + hexID("i", idx),
				name:       fmt.Sprintf("shop-%s-%d", tierName[t], i+1),
				tier:       t,
				subnet:     s,
				group:      tierGroup[t],
				primary:    alloc(),
				phase:      int64(splitmix(uint64(idx)) % 60),
			}
			mac := splitmix(uint64(idx) + 77)
			e.mac = fmt.Sprintf("0e:%02x:%02x:%02x:%02x:%02x", byte(mac>>32), byte(mac>>24), byte(mac>>16), byte(mac>>8), byte(mac))
			switch t {
			case tierWeb:
				e.publicIP = fmt.Sprintf("44.210.%d.%d", 16+i/200, 10+i%200)
			case tierMgmt:
				e.publicIP = fmt.Sprintf("192.0.2.%d", 10+i)
			}
			tp.tiers[t] = append(tp.tiers[t], e)
			tp.enis = append(tp.enis, e)
			idx++
		}
		if t == tierWeb {
			// Every third web server (the first one in the 9-ENI sample) carries a second site: a secondary
			// private IPv4 address with its own public IP, and an IPv6 address.
			for i, e := range tp.tiers[t] {
				if i%3 != 0 {
					continue
				}
				e.secondary = alloc()
				e.publicIP2 = fmt.Sprintf("44.210.%d.%d", 20+i/200, 10+i%200)
				var a [16]byte
				copy(a[:8], netip.MustParsePrefix(s.cidr6).Addr().AsSlice()[:8])
				binary.BigEndian.PutUint64(a[8:], splitmix(uint64(i)+991))
				e.ipv6 = netip.AddrFrom16(a).String()
				tp.v6ENIs = append(tp.v6ENIs, e)
			}
		}
		if next > 255 {
			return nil, fmt.Errorf("tier %s: addresses overflow %s", tierName[t], s.cidr)
		}
	}
	return tp, nil
}

// ---- AWS CLI JSON shapes (key casing exactly as the CLI prints) ----

type tagJSON struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func nameTag(v string) []tagJSON { return []tagJSON{{Key: "Name", Value: v}} }

type sgFile struct {
	SecurityGroups []sgJSON `json:"SecurityGroups"`
}

type sgJSON struct {
	Description         string     `json:"Description"`
	GroupName           string     `json:"GroupName"`
	IpPermissions       []permJSON `json:"IpPermissions"`
	OwnerId             string     `json:"OwnerId"`
	GroupId             string     `json:"GroupId"`
	IpPermissionsEgress []permJSON `json:"IpPermissionsEgress"`
	Tags                []tagJSON  `json:"Tags,omitempty"`
	VpcId               string     `json:"VpcId"`
	SecurityGroupArn    string     `json:"SecurityGroupArn"`
}

type permJSON struct {
	FromPort         *int           `json:"FromPort,omitempty"`
	IpProtocol       string         `json:"IpProtocol"`
	IpRanges         []ipRangeJSON  `json:"IpRanges"`
	Ipv6Ranges       []ip6RangeJSON `json:"Ipv6Ranges"`
	PrefixListIds    []plIDJSON     `json:"PrefixListIds"`
	ToPort           *int           `json:"ToPort,omitempty"`
	UserIdGroupPairs []pairJSON     `json:"UserIdGroupPairs"`
}

type ipRangeJSON struct {
	CidrIp      string `json:"CidrIp"`
	Description string `json:"Description,omitempty"`
}

type ip6RangeJSON struct {
	CidrIpv6    string `json:"CidrIpv6"`
	Description string `json:"Description,omitempty"`
}

type plIDJSON struct {
	Description  string `json:"Description,omitempty"`
	PrefixListId string `json:"PrefixListId"`
}

type pairJSON struct {
	Description string `json:"Description,omitempty"`
	GroupId     string `json:"GroupId"`
	UserId      string `json:"UserId"`
}

type naclFile struct {
	NetworkAcls []naclJSON `json:"NetworkAcls"`
}

type naclJSON struct {
	Associations []naclAssocJSON `json:"Associations"`
	Entries      []naclEntryJSON `json:"Entries"`
	IsDefault    bool            `json:"IsDefault"`
	NetworkAclId string          `json:"NetworkAclId"`
	Tags         []tagJSON       `json:"Tags"`
	VpcId        string          `json:"VpcId"`
	OwnerId      string          `json:"OwnerId"`
}

type naclAssocJSON struct {
	NetworkAclAssociationId string `json:"NetworkAclAssociationId"`
	NetworkAclId            string `json:"NetworkAclId"`
	SubnetId                string `json:"SubnetId"`
}

type naclEntryJSON struct {
	CidrBlock     string     `json:"CidrBlock,omitempty"`
	Egress        bool       `json:"Egress"`
	Ipv6CidrBlock string     `json:"Ipv6CidrBlock,omitempty"`
	PortRange     *portRange `json:"PortRange,omitempty"`
	Protocol      string     `json:"Protocol"`
	RuleAction    string     `json:"RuleAction"`
	RuleNumber    int        `json:"RuleNumber"`
}

type portRange struct {
	From int `json:"From"`
	To   int `json:"To"`
}

type eniFile struct {
	NetworkInterfaces []eniJSON `json:"NetworkInterfaces"`
}

type eniJSON struct {
	Association        *eniAssocJSON     `json:"Association,omitempty"`
	Attachment         attachJSON        `json:"Attachment"`
	AvailabilityZone   string            `json:"AvailabilityZone"`
	ConnectionTracking *conntrackJSON    `json:"ConnectionTrackingConfiguration,omitempty"`
	Description        string            `json:"Description"`
	Groups             []groupIdentifier `json:"Groups"`
	InterfaceType      string            `json:"InterfaceType"`
	Ipv6Addresses      []ipv6AddrJSON    `json:"Ipv6Addresses"`
	MacAddress         string            `json:"MacAddress"`
	NetworkInterfaceId string            `json:"NetworkInterfaceId"`
	OwnerId            string            `json:"OwnerId"`
	PrivateDnsName     string            `json:"PrivateDnsName"`
	PrivateIpAddress   string            `json:"PrivateIpAddress"`
	PrivateIpAddresses []privIPJSON      `json:"PrivateIpAddresses"`
	RequesterManaged   bool              `json:"RequesterManaged"`
	SourceDestCheck    bool              `json:"SourceDestCheck"`
	Status             string            `json:"Status"`
	SubnetId           string            `json:"SubnetId"`
	TagSet             []tagJSON         `json:"TagSet"`
	VpcId              string            `json:"VpcId"`
}

type eniAssocJSON struct {
	IpOwnerId     string `json:"IpOwnerId"`
	PublicDnsName string `json:"PublicDnsName"`
	PublicIp      string `json:"PublicIp"`
}

type attachJSON struct {
	AttachTime          string `json:"AttachTime"`
	AttachmentId        string `json:"AttachmentId"`
	DeleteOnTermination bool   `json:"DeleteOnTermination"`
	DeviceIndex         int    `json:"DeviceIndex"`
	NetworkCardIndex    int    `json:"NetworkCardIndex"`
	InstanceId          string `json:"InstanceId"`
	InstanceOwnerId     string `json:"InstanceOwnerId"`
	Status              string `json:"Status"`
}

type conntrackJSON struct {
	TcpEstablishedTimeout int `json:"TcpEstablishedTimeout"`
	UdpStreamTimeout      int `json:"UdpStreamTimeout"`
	UdpTimeout            int `json:"UdpTimeout"`
}

type groupIdentifier struct {
	GroupName string `json:"GroupName"`
	GroupId   string `json:"GroupId"`
}

type ipv6AddrJSON struct {
	Ipv6Address   string `json:"Ipv6Address"`
	IsPrimaryIpv6 bool   `json:"IsPrimaryIpv6"`
}

type privIPJSON struct {
	Association      *eniAssocJSON `json:"Association,omitempty"`
	Primary          bool          `json:"Primary"`
	PrivateDnsName   string        `json:"PrivateDnsName"`
	PrivateIpAddress string        `json:"PrivateIpAddress"`
}

type subnetFile struct {
	Subnets []subnetJSON `json:"Subnets"`
}

type subnetJSON struct {
	AvailabilityZone            string            `json:"AvailabilityZone"`
	AvailabilityZoneId          string            `json:"AvailabilityZoneId"`
	AvailableIpAddressCount     int               `json:"AvailableIpAddressCount"`
	CidrBlock                   string            `json:"CidrBlock"`
	DefaultForAz                bool              `json:"DefaultForAz"`
	MapPublicIpOnLaunch         bool              `json:"MapPublicIpOnLaunch"`
	State                       string            `json:"State"`
	SubnetId                    string            `json:"SubnetId"`
	VpcId                       string            `json:"VpcId"`
	OwnerId                     string            `json:"OwnerId"`
	AssignIpv6AddressOnCreation bool              `json:"AssignIpv6AddressOnCreation"`
	Ipv6CidrBlockAssociationSet []subnetCidr6JSON `json:"Ipv6CidrBlockAssociationSet"`
	Tags                        []tagJSON         `json:"Tags"`
	SubnetArn                   string            `json:"SubnetArn"`
}

type subnetCidr6JSON struct {
	AssociationId      string            `json:"AssociationId"`
	Ipv6CidrBlock      string            `json:"Ipv6CidrBlock"`
	Ipv6CidrBlockState map[string]string `json:"Ipv6CidrBlockState"`
}

type plFile struct {
	PrefixLists []plJSON `json:"PrefixLists"`
}

type plJSON struct {
	PrefixListId   string    `json:"PrefixListId"`
	AddressFamily  string    `json:"AddressFamily"`
	State          string    `json:"State"`
	PrefixListArn  string    `json:"PrefixListArn"`
	PrefixListName string    `json:"PrefixListName"`
	MaxEntries     *int      `json:"MaxEntries,omitempty"`
	Tags           []tagJSON `json:"Tags"`
	OwnerId        string    `json:"OwnerId"`
}

// plEntriesFile is get-managed-prefix-list-entries output. AWS-managed lists print no Description.
type plEntriesFile struct {
	Entries []plEntryJSON `json:"Entries"`
}

type plEntryJSON struct {
	Cidr        string `json:"Cidr"`
	Description string `json:"Description,omitempty"`
}

func intp(v int) *int { return &v }

func permsJSON(ps []perm) []permJSON {
	out := []permJSON{}
	for _, p := range ps {
		j := permJSON{IpProtocol: p.proto, IpRanges: []ipRangeJSON{}, Ipv6Ranges: []ip6RangeJSON{},
			PrefixListIds: []plIDJSON{}, UserIdGroupPairs: []pairJSON{}}
		if p.proto != "-1" {
			j.FromPort, j.ToPort = intp(p.from), intp(p.to)
		}
		for _, c := range p.cidrs {
			j.IpRanges = append(j.IpRanges, ipRangeJSON{CidrIp: c, Description: p.desc})
		}
		for _, c := range p.cidrs6 {
			j.Ipv6Ranges = append(j.Ipv6Ranges, ip6RangeJSON{CidrIpv6: c, Description: p.desc})
		}
		for _, c := range p.pls {
			j.PrefixListIds = append(j.PrefixListIds, plIDJSON{PrefixListId: c, Description: p.desc})
		}
		for _, g := range p.groups {
			j.UserIdGroupPairs = append(j.UserIdGroupPairs, pairJSON{GroupId: g, UserId: account, Description: p.desc})
		}
		out = append(out, j)
	}
	return out
}

func dnsName(ip string) string {
	return "ip-" + strings.ReplaceAll(ip, ".", "-") + ".ec2.internal"
}

// writeTopology writes the AWS CLI JSON files into dir.
func writeTopology(dir string, tp *topology) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]any{}

	var sgs sgFile
	for _, g := range []*group{tp.sgDefault, tp.sgWeb, tp.sgApp, tp.sgDB, tp.sgBastion} {
		j := sgJSON{Description: g.desc, GroupName: g.name, IpPermissions: permsJSON(g.ingress), OwnerId: account,
			GroupId: g.id, IpPermissionsEgress: permsJSON(g.egress), VpcId: vpcID,
			SecurityGroupArn: "arn:aws:ec2:" + region + ":" + account + ":security-group/" + g.id}
		if g.name != "default" {
			j.Tags = nameTag(g.name)
		}
		sgs.SecurityGroups = append(sgs.SecurityGroups, j)
	}
	files["security-groups.json"] = sgs

	var acls naclFile
	for _, n := range tp.nacls {
		j := naclJSON{Associations: []naclAssocJSON{}, IsDefault: n.isDefault, NetworkAclId: n.id, Tags: []tagJSON{},
			VpcId: vpcID, OwnerId: account}
		if n.name != "" {
			j.Tags = nameTag(n.name)
		}
		for _, s := range n.subnets {
			j.Associations = append(j.Associations, naclAssocJSON{NetworkAclAssociationId: s.assocID, NetworkAclId: n.id, SubnetId: s.id})
		}
		// AWS prints the egress entries first, each direction in ascending rule number.
		for _, egress := range []bool{true, false} {
			var es []naclEntry
			for _, e := range n.entries {
				if e.egress == egress {
					es = append(es, e)
				}
			}
			sortEntries(es)
			for _, e := range es {
				ej := naclEntryJSON{Egress: e.egress, Protocol: e.proto, RuleAction: "deny", RuleNumber: e.rule}
				if e.allow {
					ej.RuleAction = "allow"
				}
				if strings.Contains(e.cidr, ":") {
					ej.Ipv6CidrBlock = e.cidr
				} else {
					ej.CidrBlock = e.cidr
				}
				if e.proto == "6" || e.proto == "17" {
					ej.PortRange = &portRange{From: e.from, To: e.to}
				}
				j.Entries = append(j.Entries, ej)
			}
		}
		acls.NetworkAcls = append(acls.NetworkAcls, j)
	}
	files["network-acls.json"] = acls

	var enis eniFile
	for _, e := range tp.enis {
		j := eniJSON{
			Attachment: attachJSON{AttachTime: attachAt, AttachmentId: "eni-attach-" + hexID("attach", indexOf(tp.enis, e)),
				DeleteOnTermination: true, InstanceId: e.instanceID, InstanceOwnerId: account, Status: "attached"},
			AvailabilityZone:   e.subnet.az,
			Description:        "",
			Groups:             []groupIdentifier{{GroupName: e.group.name, GroupId: e.group.id}},
			InterfaceType:      "interface",
			Ipv6Addresses:      []ipv6AddrJSON{},
			MacAddress:         e.mac,
			NetworkInterfaceId: e.id,
			OwnerId:            account,
			PrivateDnsName:     dnsName(e.primary),
			PrivateIpAddress:   e.primary,
			SourceDestCheck:    true,
			Status:             "in-use",
			SubnetId:           e.subnet.id,
			TagSet:             nameTag(e.name),
			VpcId:              vpcID,
		}
		pip := privIPJSON{Primary: true, PrivateDnsName: dnsName(e.primary), PrivateIpAddress: e.primary}
		if e.publicIP != "" {
			a := &eniAssocJSON{IpOwnerId: account, PublicIp: e.publicIP}
			j.Association, pip.Association = a, a
		}
		j.PrivateIpAddresses = append(j.PrivateIpAddresses, pip)
		if e.secondary != "" {
			s := privIPJSON{PrivateDnsName: dnsName(e.secondary), PrivateIpAddress: e.secondary}
			if e.publicIP2 != "" {
				s.Association = &eniAssocJSON{IpOwnerId: account, PublicIp: e.publicIP2}
			}
			j.PrivateIpAddresses = append(j.PrivateIpAddresses, s)
		}
		if e.ipv6 != "" {
			j.Ipv6Addresses = append(j.Ipv6Addresses, ipv6AddrJSON{Ipv6Address: e.ipv6})
		}
		if e.tier == tierDB {
			// The database servers shorten idle TCP tracking (a documented per-ENI setting).
			j.ConnectionTracking = &conntrackJSON{TcpEstablishedTimeout: 3600, UdpStreamTimeout: 180, UdpTimeout: 30}
		}
		enis.NetworkInterfaces = append(enis.NetworkInterfaces, j)
	}
	files["network-interfaces.json"] = enis

	var subs subnetFile
	for t, s := range tp.subnets {
		j := subnetJSON{AvailabilityZone: s.az, AvailabilityZoneId: map[string]string{"us-east-1a": "use1-az1", "us-east-1b": "use1-az2"}[s.az],
			AvailableIpAddressCount: 251 - len(tp.tiers[t]), CidrBlock: s.cidr, State: "available", SubnetId: s.id, VpcId: vpcID,
			OwnerId: account, Ipv6CidrBlockAssociationSet: []subnetCidr6JSON{}, Tags: nameTag(s.name),
			SubnetArn: "arn:aws:ec2:" + region + ":" + account + ":subnet/" + s.id}
		if t == tierWeb {
			j.MapPublicIpOnLaunch = true
			j.AvailableIpAddressCount -= len(tp.v6ENIs)
		}
		if s.cidr6 != "" {
			j.Ipv6CidrBlockAssociationSet = append(j.Ipv6CidrBlockAssociationSet, subnetCidr6JSON{
				AssociationId: "subnet-cidr-assoc-0a1b2c3d4e5f65001", Ipv6CidrBlock: s.cidr6,
				Ipv6CidrBlockState: map[string]string{"State": "associated"}})
		}
		subs.Subnets = append(subs.Subnets, j)
	}
	files["subnets.json"] = subs

	files["prefix-lists.json"] = plFile{PrefixLists: []plJSON{
		{PrefixListId: s3PL, AddressFamily: "IPv4", State: "create-complete", PrefixListArn: "arn:aws:ec2:" + region + ":aws:prefix-list/" + s3PL,
			PrefixListName: "com.amazonaws." + region + ".s3", Tags: []tagJSON{}, OwnerId: "AWS"},
		{PrefixListId: ddbPL, AddressFamily: "IPv4", State: "create-complete", PrefixListArn: "arn:aws:ec2:" + region + ":aws:prefix-list/" + ddbPL,
			PrefixListName: "com.amazonaws." + region + ".dynamodb", Tags: []tagJSON{}, OwnerId: "AWS"},
	}}
	var ents plEntriesFile
	for _, c := range s3Ranges {
		ents.Entries = append(ents.Entries, plEntryJSON{Cidr: c})
	}
	files[s3PL+".json"] = ents

	for name, v := range files {
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func sortEntries(es []naclEntry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].rule < es[j-1].rule; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func indexOf(es []*eni, e *eni) int {
	for i, x := range es {
		if x == e {
			return i
		}
	}
	return -1
}
