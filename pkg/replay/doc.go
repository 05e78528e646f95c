// Package replay evaluates flow records against NACL and security-group models and attributes each REJECT.
//
// Three things are kept apart so that the same history can be replayed against two policies (audit mode):
// the policy (an *Engine compiled from a read-only *vpc.Model, safe for concurrent use), the replay state
// (a *State: connection tracking, counters, rule hits) and the output (a Verdict per record; the Reader writes
// it as columns).
//
// Per record, at the record's ENI, the packet walks the layers in the order AWS applies them (walk.go,
// docs/semantics.md): ingress meets the subnet NACL's inbound entries when the peer is outside every CIDR of
// the ENI's subnet, then the security groups inbound (or connection tracking); egress meets the security
// groups outbound (or connection tracking), then the NACL's outbound entries when the peer is outside the
// subnet. Each layer is one Step of the record's Path; the verdict (Verdict.Layer, the first step that
// blocks), the layers that would also have blocked (Verdict.Also), the cause, the rule hits and explain's
// lines (column verdict_steps) are all read from that one path. Rules match pkt-srcaddr/pkt-dstaddr when
// logged, else srcaddr/dstaddr; direction comes from flow-direction, else from which of srcaddr/dstaddr is the
// ENI's.
//
// Named choices (each visible in output):
//   - Request or reply (column initiator): a live tracking entry ("conntrack"), else SYN / SYN-ACK in
//     tcp-flags ("tcp-flags"), else port classes, a port below 1024, then below 32768, being the service
//     side ("ports"), else the first record of a conversation is the request ("order").
//   - A reply with no tracked request (its request was in an unseen file, or evicted) passes the security
//     groups as "conntrack-assumed" (the SG is stateful); the NACL still judges it. A reply whose tracked
//     connection idled out is judged by the rules (cause conntrack-expired when they deny it).
//   - AdmitLogged (default): a connection enters the tracking table when the log says ACCEPT, since the log is
//     what AWS admitted; AdmitModel (audit mode) uses the model's verdict.
//   - Idle timeouts come from record times only (start of the record against the latest end seen on the
//     connection), never the wall clock; see the Default*Timeout constants.
//   - A logged REJECT that the model accepts keeps model_action ACCEPT with cause "unexplained"; a logged
//     ACCEPT that the model rejects keeps its modeled layer and cause with model_agrees false.
//   - ENIs without security groups (AWS-managed interfaces) are not filtered by SGs ("no-security-group").
//   - ICMP type and code, which flow logs do not carry: a request is an echo request, a reply an echo reply
//     (icmpEcho); a step that weighed a rule restricted to an ICMP type says so (Step.ICMPInferred).
//   - Rule hits credit every security-group rule of the union that allows a packet the rules judged, and
//     the NACL's deciding entry (Engine.creditRules); Verdict's sg_rule is the first allowing rule in model order.
//
// The facts and choices, with their AWS sources, are in docs/semantics.md; the causes are defined there too.
package replay
