package recommend

// Options configure Recommend. The zero value of a field means "use the default" (see DefaultOptions), so a
// caller sets only what it changes; Recommend never reads global state.
type Options struct {
	// MaxRules is the number of rules a group may have per direction and per address family: AWS's quota is
	// 60 inbound and 60 outbound, IPv4 and IPv6 counted separately [Q]. Default 60.
	MaxRules int `json:"max_rules"`
	// MaxCIDRsPerService is how many CIDR rules one service (protocol and port) of a group may need before its
	// peers are widened into fewer, wider prefixes (never wider than WidestV4/WidestV6). Default 8.
	MaxCIDRsPerService int `json:"max_cidrs_per_service"`
	// WidestV4 and WidestV6 are the shortest prefix lengths aggregation may produce: merging peers into a
	// prefix wider than these needs a human. Defaults /16 and /48. (0.0.0.0/0 comes only from InternetWideNets.)
	WidestV4 int `json:"widest_v4"`
	WidestV6 int `json:"widest_v6"`
	// InternetWideNets: a service whose public peers (not private, not in the model) fall in MORE than this
	// many distinct /24 (IPv4) plus /48 (IPv6) networks is "internet-wide" and gets 0.0.0.0/0 (and ::/0 when
	// IPv6 peers were seen) on that port only. Default 16.
	InternetWideNets int `json:"internet_wide_nets"`
	// PrefixListWidestV4 and PrefixListWidestV6: a managed prefix list is used as a peer only when none of its
	// entries is wider than these (a list holding 0.0.0.0/0 would be "internet" with a friendly name).
	// Defaults /8 and /24.
	PrefixListWidestV4 int `json:"prefix_list_widest_v4"`
	PrefixListWidestV6 int `json:"prefix_list_widest_v6"`
	// PortGap and PortGapFraction decide when observed ports collapse into one range p..q: when the ports in
	// it that were not observed are at most max(PortGap, PortGapFraction * (q-p+1)). Defaults 2 and 0.1; a
	// negative value means 0 (only consecutive ports merge).
	PortGap         int     `json:"port_gap"`
	PortGapFraction float64 `json:"port_gap_fraction"`
	// SensitivePorts are administrative and database ports: a collapsed range never includes one that was
	// not observed, and current rules opening one to the world are reported. Default DefaultSensitivePorts.
	SensitivePorts []uint16 `json:"sensitive_ports"`
	// MinFlows and MinWindows are the evidence a proposed rule or entry needs (summed over what it covers);
	// below either it goes to Recommendation.Unproven for a human to decide. Defaults 2 flows, 1 window.
	MinFlows   int64 `json:"min_flows"`
	MinWindows int   `json:"min_windows"`
	// OverBroadPeers: a current rule for 0.0.0.0/0, ::/0 or a CIDR wider than WidestV4/WidestV6 that admitted
	// at most this many distinct peers in the window is reported as over-broad. Default 10.
	OverBroadPeers int `json:"over_broad_peers"`

	// NACLMaxEntries is the number of entries a NACL may have per direction and family, the '*' entries not
	// counted: AWS's default quota is 20 [Q]. Default 20.
	NACLMaxEntries int `json:"nacl_max_entries"`
	// NACLFirstRule and NACLRuleStep number proposed entries 100, 110, ... (gaps leave room for later
	// inserts). Defaults 100 and 10.
	NACLFirstRule int `json:"nacl_first_rule"`
	NACLRuleStep  int `json:"nacl_rule_step"`
	// NoScannerDenies turns off the explicit NACL deny entries for scanners (sources that were only ever
	// rejected and probed ScannerPorts or more distinct ports). Scanners are reported either way.
	NoScannerDenies bool `json:"no_scanner_denies"`
	// DropCurrentDenies leaves out the explicit deny entries of the current NACLs. By default a current deny
	// entry that no accepted request crossed (its sources were only ever rejected: an intended block) is kept
	// ahead of the allows, with the rejected records it matches as evidence; dropping one is a finding.
	DropCurrentDenies bool `json:"drop_current_denies"`
	// ScannerPorts is the number of distinct (protocol, port) a source must have probed. Default 10.
	ScannerPorts int `json:"scanner_ports"`
	// MaxScannerDenies bounds the deny entries per NACL (most probing sources first), so that denies never
	// crowd out the allows within NACLMaxEntries. Default 4.
	MaxScannerDenies int `json:"max_scanner_denies"`
}

// DefaultSensitivePorts are the administrative and database ports that are never opened unobserved and are
// reported when open to the world: ssh 22, telnet 23, smtp 25, rpc 135, netbios 139, smb 445, mssql 1433,
// oracle 1521, docker 2375/2376, etcd 2379, mysql 3306, rdp 3389, postgres 5432, vnc 5900, couchdb 5984,
// winrm 5985/5986, redis 6379, elasticsearch 9200/9300, memcached 11211, mongodb 27017.
var DefaultSensitivePorts = []uint16{22, 23, 25, 135, 139, 445, 1433, 1521, 2375, 2376, 2379, 3306, 3389, 5432,
	5900, 5984, 5985, 5986, 6379, 9200, 9300, 11211, 27017}

// DefaultOptions returns the defaults documented on Options.
func DefaultOptions() Options {
	return Options{
		MaxRules: 60, MaxCIDRsPerService: 8, WidestV4: 16, WidestV6: 48, InternetWideNets: 16,
		PrefixListWidestV4: 8, PrefixListWidestV6: 24, PortGap: 2, PortGapFraction: 0.1,
		SensitivePorts: DefaultSensitivePorts, MinFlows: 2, MinWindows: 1, OverBroadPeers: 10,
		NACLMaxEntries: 20, NACLFirstRule: 100, NACLRuleStep: 10, ScannerPorts: 10, MaxScannerDenies: 4,
	}
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&o.MaxRules, d.MaxRules)
	set(&o.MaxCIDRsPerService, d.MaxCIDRsPerService)
	set(&o.WidestV4, d.WidestV4)
	set(&o.WidestV6, d.WidestV6)
	set(&o.InternetWideNets, d.InternetWideNets)
	set(&o.PrefixListWidestV4, d.PrefixListWidestV4)
	set(&o.PrefixListWidestV6, d.PrefixListWidestV6)
	set(&o.PortGap, d.PortGap)
	set(&o.MinWindows, d.MinWindows)
	set(&o.OverBroadPeers, d.OverBroadPeers)
	set(&o.NACLMaxEntries, d.NACLMaxEntries)
	set(&o.NACLFirstRule, d.NACLFirstRule)
	set(&o.NACLRuleStep, d.NACLRuleStep)
	set(&o.ScannerPorts, d.ScannerPorts)
	set(&o.MaxScannerDenies, d.MaxScannerDenies)
	if o.PortGapFraction == 0 {
		o.PortGapFraction = d.PortGapFraction
	}
	if o.MinFlows == 0 {
		o.MinFlows = d.MinFlows
	}
	if o.SensitivePorts == nil {
		o.SensitivePorts = d.SensitivePorts
	}
	return o
}

func (o *Options) sensitive(port int32) bool {
	for _, p := range o.SensitivePorts {
		if int32(p) == port {
			return true
		}
	}
	return false
}
