package recommend

import (
	"encoding/json"
	"math/bits"
	"net/netip"
	"time"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Observations is what Recommend learns from: the traffic of one window, already aggregated (the CLI fills it
// from one GROUP BY over the stored flows; tests fill it by hand). It holds no Arrow or DuckDB type.
//
// Rows may repeat a key: Recommend merges them (Evidence.Add). Addresses are the packet's own addresses
// (pkt-srcaddr/pkt-dstaddr where the log has them), because that is what rules match.
type Observations struct {
	// Window is the time range the rows come from and its slots (see Window).
	Window Window
	// Requests are the ACCEPTED REQUESTS, one row per (ENI, direction, local address, peer, protocol,
	// service port). Replies of tracked connections are left out: security groups are stateful, so a reply
	// never needs a rule of its own [CT]; NACL return entries are derived from the requests' client ports.
	Requests []Request
	// Rejected are the REJECTED requests, one row per (ENI, peer, protocol, port), used to find scanners.
	Rejected []Rejection
	// RuleHits are the rule_hits rows of the current configuration (README "rule_hits"): a rule with 0 hits
	// allowed nothing in the window. Nil means unknown: no "unused" finding is made.
	RuleHits []RuleHit
}

// Request is one aggregated accepted request seen on one interface.
type Request struct {
	ENI string        // interface-id of the record
	Dir vpc.Direction // Ingress: Peer -> Local (the interface is the server); Egress: Local -> Peer (the client)
	// Local is the interface's address the request used (dstaddr for ingress, srcaddr for egress); the zero
	// Addr means the interface's primary address.
	Local netip.Addr
	Peer  netip.Addr
	Proto uint8  // IANA number
	Port  uint16 // the service port: dstport for TCP/UDP, 0 for ICMP and port-less protocols
	// ClientPortMin and ClientPortMax are the lowest and highest source port of the requests: the client's
	// ephemeral ports, which the NACL's return entries must admit (NACLs are stateless [NACL]). 0 0 means not
	// known (ICMP, or not queried): the AWS-recommended 1024-65535 is then assumed.
	ClientPortMin, ClientPortMax uint16
	Evidence
}

// Rejection is one aggregated rejected request: a peer that tried a port of an interface and was refused.
type Rejection struct {
	ENI     string
	Peer    netip.Addr
	Proto   uint8
	Port    uint16
	Flows   int64
	Example string // file:line of one record
}

// RuleHit is the part of a rule_hits row Recommend reads: the rule's owner, its id and how many records it
// allowed (or, for a NACL entry, decided) in the window.
type RuleHit struct {
	Resource string // sg-... or acl-...
	RuleID   string // SGRule.ID, or the NACL entry's rule number as text
	Hits     int64
}

// Evidence is what justifies a rule: the records it stands for. Recommend sums it over everything a proposed
// rule covers (peers, ports, interfaces).
type Evidence struct {
	Flows     int64 `json:"flows"`
	Packets   int64 `json:"packets"`
	Bytes     int64 `json:"bytes"`
	FirstSeen int64 `json:"-"` // Unix seconds; 0 = none (JSON: RFC 3339, see MarshalJSON)
	LastSeen  int64 `json:"-"`
	// Windows has bit i set when a record fell in slot i of the observation window (Window.Bit): its
	// population count is the number of distinct days (or windows) the traffic was seen in.
	Windows uint64 `json:"windows"`
	// Example is one record as file:line: the one seen first (ties: the smaller text).
	Example string `json:"example"`
}

// Add merges o into e.
func (e *Evidence) Add(o Evidence) {
	e.Flows += o.Flows
	e.Packets += o.Packets
	e.Bytes += o.Bytes
	e.Windows |= o.Windows
	if o.FirstSeen != 0 && (e.FirstSeen == 0 || o.FirstSeen < e.FirstSeen ||
		(o.FirstSeen == e.FirstSeen && o.Example != "" && (e.Example == "" || o.Example < e.Example))) {
		e.FirstSeen = o.FirstSeen
		if o.Example != "" {
			e.Example = o.Example
		}
	}
	if e.Example == "" {
		e.Example = o.Example
	}
	e.LastSeen = max(e.LastSeen, o.LastSeen)
}

// Slots is the number of distinct window slots (days, by default) the evidence was seen in.
func (e Evidence) Slots() int { return bits.OnesCount64(e.Windows) }

// MarshalJSON renders the times as RFC 3339 (UTC; omitted when there are none) and adds the number of
// distinct slots, so a reader of recommend's JSON needs neither epoch arithmetic nor bit counting.
func (e Evidence) MarshalJSON() ([]byte, error) {
	type plain Evidence
	return json.Marshal(struct {
		plain
		FirstSeen string `json:"first_seen,omitempty"`
		LastSeen  string `json:"last_seen,omitempty"`
		Slots     int    `json:"distinct_windows"`
	}{plain(e), rfc3339(e.FirstSeen), rfc3339(e.LastSeen), e.Slots()})
}

// rfc3339 renders Unix seconds as RFC 3339 UTC; 0 (none) as "".
func rfc3339(t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// Window is the observed time range [Start, End) in Unix seconds, cut into Slots equal slots (at most 64,
// the bits of Evidence.Windows). Zero Slots means one slot per day (86400 s), at most 64.
type Window struct {
	Start, End int64
	Slots      int
}

// MarshalJSON renders the range as RFC 3339 (UTC) with the slot count actually used.
func (w Window) MarshalJSON() ([]byte, error) {
	n := w.normal()
	return json.Marshal(struct {
		Start string `json:"start"`
		End   string `json:"end"`
		Slots int    `json:"slots"`
	}{rfc3339(w.Start), rfc3339(w.End), n.Slots})
}

// DaySeconds is the default slot: distinct days are the usual "was this seen more than once" evidence.
const DaySeconds = 86400

// normal returns w with Slots set (1..64) and End > Start.
func (w Window) normal() Window {
	if w.End <= w.Start {
		w.End = w.Start + 1
	}
	if w.Slots <= 0 {
		w.Slots = int((w.End - w.Start + DaySeconds - 1) / DaySeconds)
	}
	w.Slots = min(max(w.Slots, 1), 64)
	return w
}

// Bit returns the Evidence.Windows bit of the slot holding time t (clamped into the window). The CLI ORs it
// over a row's records (bit_or in SQL).
func (w Window) Bit(t int64) uint64 {
	w = w.normal()
	i := (t - w.Start) * int64(w.Slots) / (w.End - w.Start)
	i = min(max(i, 0), int64(w.Slots-1))
	return 1 << uint(i)
}
