package ike

import (
	"bytes"

	"github.com/esphub/esphub/ike/wire"
)

// ConfigPayload is the content of a Configuration payload (RFC 7296 §3.15)
// exchanged in IKE_AUTH: addresses, DNS servers and, for FlexVPN's "route
// set"/"route accept", INTERNAL_IP4_SUBNET/INTERNAL_IP6_SUBNET prefixes.
// Attribute values are owned by the ConfigPayload. A message carries at most
// one CP (the codec rejects more), so Profile.Config and a ConfigResponder's
// answer hold one element in practice; FlexVPN puts its "route set" subnets
// into the CFG_REQUEST/CFG_REPLY itself.
type ConfigPayload struct {
	Type       wire.CFGType
	Attributes []wire.ConfigAttribute
}

// ConfigResponder is implemented by a Policy that answers configuration
// requests (IOS: the IKEv2 authorization policy's pool, DNS and "route
// set"). The engine calls it from its goroutine, in IKE_AUTH, after the
// initiator is authenticated, with every CP the initiator sent (CFG_REQUEST
// and/or CFG_SET). It returns the CP to answer with (CFG_REPLY to a
// request, CFG_ACK to a set). An error answers INTERNAL_ADDRESS_FAILURE and
// the IKE SA comes up without a Child SA (RFC 7296 §3.15.4).
type ConfigResponder interface {
	Configure(sa IKESAInfo, req []ConfigPayload) ([]ConfigPayload, error)
}

func cpPayload(c ConfigPayload) *wire.Configuration {
	return &wire.Configuration{CFGType: c.Type, Attributes: c.Attributes}
}

// configPayloads copies the CPs of a message.
func (m *inMessage) configPayloads() []ConfigPayload {
	var out []ConfigPayload
	for _, p := range m.payloads {
		cp, ok := p.(*wire.Configuration)
		if !ok {
			continue
		}
		c := ConfigPayload{Type: cp.CFGType}
		for _, a := range cp.Attributes {
			c.Attributes = append(c.Attributes, wire.ConfigAttribute{AttrType: a.AttrType, Value: bytes.Clone(a.Value)})
		}
		out = append(out, c)
	}
	return out
}
