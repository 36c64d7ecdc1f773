package ike

import (
	"bytes"

	"github.com/esphub/esphub/ike/wire"
)

// Configuration payloads (RFC 7296 §2.19, §3.15) in IKE_AUTH: how FlexVPN
// assigns overlay addresses from a pool and exchanges routes ("route set" on
// one side becomes INTERNAL_IP4/6_SUBNET attributes; "route accept" on the
// other installs them). The engine only carries the payloads: what to ask
// for and how to answer is the caller's policy (Profile.ConfigRequest and
// Profile.ConfigReply), and what the peer sent is reported in
// IKESAInfo.PeerConfig.

// cp returns the message's configuration payload, if any.
func (m *inMessage) cp() *wire.Configuration {
	for _, p := range m.payloads {
		if c, ok := p.(*wire.Configuration); ok {
			return c
		}
	}
	return nil
}

// cloneCP deep-copies c: decoded attribute values alias the receive buffer.
func cloneCP(c *wire.Configuration) *wire.Configuration {
	if c == nil {
		return nil
	}
	out := &wire.Configuration{CFGType: c.CFGType, Attributes: make([]wire.ConfigAttribute, len(c.Attributes))}
	for i, a := range c.Attributes {
		out.Attributes[i] = wire.ConfigAttribute{AttrType: a.AttrType, Value: bytes.Clone(a.Value)}
	}
	return out
}

// respondCP answers the peer's CFG_REQUEST in IKE_AUTH as responder. It
// returns the payload to send (a CFG_REPLY, or an INTERNAL_ADDRESS_FAILURE
// notify) and whether a Child SA may still be created: RFC 7296 §3.10.1
// says none is when the address assignment failed.
func (sa *ikeSA) respondCP(m *inMessage, prof *Profile) (wire.Payload, bool) {
	req := m.cp()
	if req == nil {
		return nil, true
	}
	sa.peerCP = cloneCP(req)
	if req.CFGType != wire.CFGRequest || prof.ConfigReply == nil {
		return nil, true
	}
	reply, err := prof.ConfigReply(sa.peerCP)
	if err != nil {
		sa.e.stats.inc(CounterConfigFailures)
		sa.e.log.Info("configuration request refused", "peer", sa.remote, "err", err)
		return notify(wire.NotifyInternalAddressFailure, nil), false
	}
	if reply == nil {
		return nil, true
	}
	reply.CFGType = wire.CFGReply
	sa.localCP = cloneCP(reply)
	return reply, true
}
