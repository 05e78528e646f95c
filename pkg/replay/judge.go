package replay

import (
	"math"

	"github.com/flowlens/flowlens/pkg/replay/internal/conntrack"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// TCP flag bits as logged [FL]. ACK is only logged as part of SYN-ACK.
const (
	flagFIN    = 1
	flagSYN    = 2
	flagRST    = 4
	flagSYNACK = 18
)

// Port classes for the initiator heuristic. Ephemeral ranges: Linux 32768-61000, Windows 49152-65535,
// ELB/NAT gateway/Lambda 1024-65535 [NACL]; a port below 1024 is well-known, 1024-32767 registered.
const (
	wellKnownPortEnd = 1024
	ephemeralStart   = 32768
)

func portRank(p uint16) int {
	switch {
	case p < wellKnownPortEnd:
		return 0
	case p < ephemeralStart:
		return 1
	}
	return 2
}

// inferRoleOf guesses request versus reply without tracking state: SYN / SYN-ACK when tcp-flags has them,
// then the port classes (the lower class is the service), else the record is the first seen of its
// conversation and so taken as the request.
func inferRoleOf(proto uint8, flags int16, srcPort, dstPort uint16) (Role, Inference) {
	if proto == 6 && flags >= 0 {
		if flags&flagSYNACK == flagSYNACK {
			return RoleReply, InferTCPFlags
		}
		if flags&flagSYN != 0 {
			return RoleRequest, InferTCPFlags
		}
	}
	if proto == 6 || proto == 17 {
		rs, rd := portRank(srcPort), portRank(dstPort)
		if rd < rs {
			return RoleRequest, InferPorts
		}
		if rs < rd {
			return RoleReply, InferPorts
		}
	}
	return RoleRequest, InferOrder
}

// Judge evaluates one record against the policy, updating st (tracking table, counters, rule hits), and
// returns the verdict. Records of one ENI must be judged in time order for tracking to be right (the Reader
// orders them). Judge does not allocate in the steady state. st must belong to this engine.
func (e *Engine) Judge(st *State, f *Flow) Verdict {
	c := compactFlow{
		srcPort: f.SrcPort, dstPort: f.DstPort, proto: f.Proto, packets: f.Packets, bytes: f.Bytes,
		start: f.Start, end: f.End, flags: f.TCPFlags, action: f.Action, status: f.Status, dir: f.Direction, bpa: f.BPA,
	}
	c.src, c.srcKind = encodeAddr(f.Src)
	c.dst, c.dstKind = encodeAddr(f.Dst)
	ei := int32(-1)
	if f.Status == StatusOK {
		ei = e.resolveENI(f)
	}
	var pkt [2][16]byte
	var pktKind [2]uint8
	pkt[0], pktKind[0] = encodeAddr(f.PktSrc)
	pkt[1], pktKind[1] = encodeAddr(f.PktDst)
	e.locate(&c, ei, &pkt, &pktKind)
	return e.judgeAt(st, &c, nil)
}

// locate completes a parsed record (status, srcaddr/dstaddr, flow-direction) for judgeAt: its ENI ei
// (resolveENI), its direction (flow-direction, else which address is the ENI's) and then the addresses the
// rules match, pkt-srcaddr/pkt-dstaddr where logged (NAT gateway, secondary addresses, pods). A record with
// an undecided direction keeps srcaddr/dstaddr and is judged "unknown direction".
func (e *Engine) locate(c *compactFlow, ei int32, pkt *[2][16]byte, pktKind *[2]uint8) {
	if c.status != StatusOK || ei < 0 {
		c.eni, c.dir = -1, 0
		return
	}
	c.eni = ei
	if c.dir == 0 {
		info := &e.enis[ei]
		switch {
		case c.dstKind != 0 && info.hasAddr(&c.dst, c.dstKind):
			c.dir = vpc.Ingress
		case c.srcKind != 0 && info.hasAddr(&c.src, c.srcKind):
			c.dir = vpc.Egress
		}
	}
	if c.dir != 0 {
		if pktKind[0] != 0 {
			c.src, c.srcKind = pkt[0], pktKind[0]
		}
		if pktKind[1] != 0 {
			c.dst, c.dstKind = pkt[1], pktKind[1]
		}
	}
}

// judgeAt is Judge of a located record (see locate) and, when pre is not nil and pre.ok, the record's
// connection key already computed: the connection-tracking lookup, the packet walk (walk.go), the verdict
// and cause read from the walk, rule hits, and tracking of an admitted connection.
func (e *Engine) judgeAt(st *State, c *compactFlow, pre *hashedKey) Verdict {
	v := Verdict{Logged: c.action, eni: -1}
	st.records++
	if c.status != StatusOK {
		v.Cause = CauseNotJudged
		if c.status == StatusNoData {
			st.noData++
		} else {
			st.skipData++
		}
		return v
	}
	ei := c.eni
	if ei < 0 {
		v.Cause = CauseUnknownInterface
		st.unknownInterface++
		return v
	}
	info := &e.enis[ei]
	v.ENI, v.eni = info.eni, ei
	dir := c.dir
	if dir == 0 {
		v.Cause = CauseUnknownDirection
		st.unknownDirection++
		return v
	}
	v.Dir = dir

	// p is written field by field: a composite literal is built aside and copied in 16-byte loads of
	// fields just stored one or two bytes at a time, which stalls on store forwarding.
	var p vpc.Packet
	p.SrcPort, p.DstPort, p.Proto = c.srcPort, c.dstPort, c.proto
	p.ICMPType, p.ICMPCode = vpc.ICMPUnknown, vpc.ICMPUnknown
	decodeAddrTo(&p.Src, &c.src, c.srcKind)
	decodeAddrTo(&p.Dst, &c.dst, c.dstKind)

	// Connection tracking: a live entry for the tuple (a further packet of a tracked request) or for its
	// reverse (a reply) means the connection was admitted; it also tells request from reply.
	hk := pre
	if hk == nil || !hk.ok {
		hk = new(hashedKey) // does not escape: on the stack
		c.key(hk)
	}
	ct := &st.ct
	tracked := ct.Find(&hk.k, hk.h)
	expired := false
	if tracked >= 0 {
		v.Role = RoleReply
		if ct.Entry(tracked).InitiatorIsA() == hk.srcIsA {
			v.Role = RoleRequest
		}
		if ct.Live(tracked, c.start) {
			v.Infer = InferConntrack
		} else {
			ct.Expire(tracked)
			tracked, expired = -1, true
		}
	}
	if tracked < 0 {
		v.Role, v.Infer = inferRoleOf(c.proto, c.flags, c.srcPort, c.dstPort)
	}
	if icmpFamily(c.proto) >= 0 {
		p.ICMPType, p.ICMPCode = icmpEcho(c.proto, v.Role)
	}

	e.walk(&v.Path, info, dir, &p, tracked >= 0, v.Role == RoleReply && !expired, c.bpa)
	v.decide()
	if v.ModelAction == Reject {
		v.Cause = v.blockCause(expired, info, &p)
	} else if c.action == Reject {
		v.Cause = CauseUnexplained
	}
	e.creditRules(st, info, dir, &p, &v.Path, c)

	admit := v.ModelAction == Accept
	if e.cfg.Admit == AdmitLogged && c.action != ActionNone {
		admit = c.action == Accept && !c.bpa
	}
	if admit {
		e.track(st, info, tracked, hk, &v, c, &p, dir)
	}
	st.count(&v)
	return v
}

// track records an admitted packet in the tracking table.
func (e *Engine) track(st *State, info *eniInfo, i int32, hk *hashedKey, v *Verdict, c *compactFlow, p *vpc.Packet, dir vpc.Direction) {
	ct := &st.ct
	if i < 0 {
		if sg := v.Path.sgStep(); sg.Basis == BasisRule && info.eni.Untracked(dir, *p, sg.Rule) {
			ct.Stats.Untracked++
			return
		}
		i = ct.Insert(&hk.k, hk.h, c.start)
		ent := ct.Entry(i)
		if hk.srcIsA == (v.Role != RoleReply) {
			ent.SetInitiatorIsA()
		}
		ent.State = conntrack.TCPEstablished
		if p.Proto == 6 && c.flags >= 0 && v.Role == RoleRequest && c.flags&flagSYN != 0 && c.flags&flagSYNACK != flagSYNACK {
			ent.State = conntrack.TCPHalfOpen
		}
	} else {
		ct.Touch(i)
	}
	ent := ct.Entry(i)
	if c.end > ent.Last {
		ent.Last = c.end
	}
	if c.start > ent.Last {
		ent.Last = c.start
	}
	if c.packets > 0 {
		ent.Packets = uint32(min(int64(ent.Packets)+c.packets, math.MaxUint32))
	}
	if v.Role == RoleReply {
		ent.SetReplied()
		if ent.State == conntrack.TCPHalfOpen {
			ent.State = conntrack.TCPEstablished
		}
	}
	if p.Proto == 6 && c.flags > 0 && c.flags&(flagFIN|flagRST) != 0 {
		ent.State = conntrack.TCPClosing
	}
	switch p.Proto {
	case 6:
		switch ent.State {
		case conntrack.TCPHalfOpen:
			ent.Timeout = e.halfOpen
		case conntrack.TCPClosing:
			ent.Timeout = e.closing
		default:
			ent.Timeout = info.tcpEst
		}
	case 17:
		// A UDP flow is a stream once a reply was seen and the connection carried more than one
		// request/response (more than two packets in all records on it).
		if ent.Replied() && ent.Packets > 2 {
			ent.Timeout = info.udpStrm
		} else {
			ent.Timeout = info.udp
		}
	case 1, 58:
		ent.Timeout = e.icmp
	default:
		ent.Timeout = secs(DefaultOtherTimeout)
	}
}
