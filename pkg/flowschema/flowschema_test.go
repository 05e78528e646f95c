package flowschema

import "testing"

func TestIPv4Col(t *testing.T) {
	for _, tc := range []struct {
		name, addr, want string
	}{
		{name: "srcaddr", addr: ColSrcAddr, want: "srcaddr_ipv4"},
		{name: "pkt_dstaddr", addr: ColPktDstAddr, want: "pkt_dstaddr_ipv4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := IPv4Col(tc.addr)
			if got != tc.want {
				t.Errorf("IPv4Col(%q) = %q, want %q", tc.addr, got, tc.want)
			}
			if !IsIPv4Col(got) || IsIPv4Col(tc.addr) {
				t.Errorf("IsIPv4Col(%q) = %t, IsIPv4Col(%q) = %t", got, IsIPv4Col(got), tc.addr, IsIPv4Col(tc.addr))
			}
		})
	}
}
