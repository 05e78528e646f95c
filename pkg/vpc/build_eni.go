package vpc

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// buildENIs converts describe-network-interfaces output: addresses (primary first), public addresses, groups
// and connection-tracking timeouts. Compile links each ENI to its subnet and groups.
func (l *loader) buildENIs() {
	for _, s := range l.enis {
		v := s.v
		e := &ENI{ID: v.NetworkInterfaceId, SubnetID: v.SubnetId, VpcID: v.VpcId, Type: v.InterfaceType, Description: v.Description}
		if v.Attachment != nil {
			e.InstanceID = v.Attachment.InstanceId
		}
		addr := func(field, text string, want4 bool) (netip.Addr, bool) {
			a, err := netip.ParseAddr(strings.TrimSpace(text))
			if err != nil || a.Zone() != "" || a.Is4() != want4 {
				family := "IPv6"
				if want4 {
					family = "IPv4"
				}
				l.fatal(s.file, e.ID, "%s %q is not an %s address: ignored, so flows on it are not attributed to the ENI",
					field, truncate(text, 60), family)
				return netip.Addr{}, false
			}
			return a, true
		}
		var v4 []netip.Addr
		var primary4 netip.Addr
		if v.PrivateIpAddress != "" {
			if a, ok := addr("PrivateIpAddress", v.PrivateIpAddress, true); ok {
				primary4 = a
			}
		}
		for _, p := range v.PrivateIpAddresses {
			a, ok := addr("PrivateIpAddresses.PrivateIpAddress", p.PrivateIpAddress, true)
			if !ok {
				continue
			}
			if p.Primary && !primary4.IsValid() {
				primary4 = a
			}
			v4 = append(v4, a)
			if p.Association != nil && p.Association.PublicIp != "" {
				if pub, ok := addr("Association.PublicIp", p.Association.PublicIp, true); ok {
					e.PublicIPs = appendUnique(e.PublicIPs, pub)
				}
			}
		}
		if v.Association != nil && v.Association.PublicIp != "" {
			if pub, ok := addr("Association.PublicIp", v.Association.PublicIp, true); ok {
				e.PublicIPs = appendUnique(e.PublicIPs, pub)
			}
		}
		var v6 []netip.Addr
		var primary6 netip.Addr
		for _, p := range v.Ipv6Addresses {
			a, ok := addr("Ipv6Addresses.Ipv6Address", p.Ipv6Address, false)
			if !ok {
				continue
			}
			if p.IsPrimaryIpv6 && !primary6.IsValid() {
				primary6 = a
			}
			v6 = append(v6, a)
		}
		switch {
		case primary4.IsValid():
			e.Primary = primary4
		case len(v4) > 0:
			e.Primary = v4[0]
		case primary6.IsValid():
			e.Primary = primary6
		case len(v6) > 0:
			e.Primary = v6[0]
		}
		if e.Primary.IsValid() {
			e.Addrs = append(e.Addrs, e.Primary)
		}
		for _, a := range append(v4, v6...) {
			e.Addrs = appendUnique(e.Addrs, a)
		}
		for _, g := range v.Groups {
			if g.GroupId != "" && !slices.Contains(e.GroupIDs, g.GroupId) {
				e.GroupIDs = append(e.GroupIDs, g.GroupId)
			}
		}
		if ct := v.ConnectionTrackingConfiguration; ct != nil {
			e.Timeouts.TCPEstablished = l.timeout(s.file, e.ID, "TcpEstablishedTimeout", ct.TcpEstablishedTimeout, 60, 432000)
			e.Timeouts.UDP = l.timeout(s.file, e.ID, "UdpTimeout", ct.UdpTimeout, 30, 60)
			e.Timeouts.UDPStream = l.timeout(s.file, e.ID, "UdpStreamTimeout", ct.UdpStreamTimeout, 60, 180)
		}
		l.m.ENIs[e.ID] = e
	}
}

func appendUnique(s []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(s, a) {
		return s
	}
	return append(s, a)
}

// timeout converts a ConnectionTrackingConfiguration field (seconds) to a Duration; out-of-range values are
// kept (AWS is the authority) with a warning.
func (l *loader) timeout(file, eniID, field string, sec *int64, lo, hi int64) time.Duration {
	if sec == nil {
		return 0
	}
	if *sec <= 0 || *sec > 1<<31 {
		l.fatal(file, eniID, "ConnectionTrackingConfiguration.%s %d is not a positive number of seconds: ignored (AWS default used)", field, *sec)
		return 0
	}
	if *sec < lo || *sec > hi {
		l.warn(file, eniID, "ConnectionTrackingConfiguration.%s %d s is outside AWS's documented range %d-%d s; used as given", field, *sec, lo, hi)
	}
	return time.Duration(*sec) * time.Second
}
