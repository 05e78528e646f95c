package audit

import (
	"github.com/flowlens/flowlens/pkg/exposure"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// Exposure is a policy's exposure.Measure in audit's report shape: the IPv4 figures as integers under the
// names audit has always used (ingress, egress, total; audit_summary's exposure_before/after are Total), the
// IPv6 figures beside them. The measure is pkg/exposure's, the one recommend reports too, so the two commands
// give the same figures for the same candidate.
type Exposure struct {
	Ingress   int64   `json:"ingress"`
	Egress    int64   `json:"egress"`
	Total     int64   `json:"total"`
	IngressV6 float64 `json:"ingress_v6,omitempty"`
	EgressV6  float64 `json:"egress_v6,omitempty"`
	TotalV6   float64 `json:"total_v6,omitempty"`
	// Interfaces lists each interface's figures, by id.
	Interfaces []InterfaceExposure `json:"interfaces,omitempty"`
}

// InterfaceExposure is one interface's Exposure.
type InterfaceExposure struct {
	Interface string  `json:"interface"`
	Ingress   int64   `json:"ingress"`
	Egress    int64   `json:"egress"`
	IngressV6 float64 `json:"ingress_v6,omitempty"`
	EgressV6  float64 `json:"egress_v6,omitempty"`
}

// MeasureExposure measures m with exposure.Model.
func MeasureExposure(m *vpc.Model) Exposure {
	x := exposure.Model(m)
	out := Exposure{Ingress: x.Ingress.V4, Egress: x.Egress.V4, Total: x.Total.V4,
		IngressV6: x.Ingress.V6, EgressV6: x.Egress.V6, TotalV6: x.Total.V6}
	for _, i := range x.Interfaces {
		out.Interfaces = append(out.Interfaces, InterfaceExposure{Interface: i.ID, Ingress: i.Ingress.V4, Egress: i.Egress.V4,
			IngressV6: i.Ingress.V6, EgressV6: i.Egress.V6})
	}
	return out
}
