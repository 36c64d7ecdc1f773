package ike

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

// cfgPolicy is testPolicy plus a FlexVPN-style configuration responder: it
// assigns an address, pushes a route and accepts the initiator's routes.
type cfgPolicy struct {
	*testPolicy
	fail error
	got  []ConfigPayload
}

func (p *cfgPolicy) Configure(sa IKESAInfo, req []ConfigPayload) ([]ConfigPayload, error) {
	p.got = req
	if p.fail != nil {
		return nil, p.fail
	}
	var out []ConfigPayload
	for _, c := range req {
		switch c.Type {
		case wire.CFGRequest:
			out = append(out, ConfigPayload{Type: wire.CFGReply, Attributes: []wire.ConfigAttribute{
				wire.AddrAttribute(wire.AttrInternalIP4Address, netip.MustParseAddr("198.19.255.7")),
				wire.SubnetAttribute(netip.MustParsePrefix("198.19.0.0/24")),
			}})
		case wire.CFGSet:
			out = append(out, ConfigPayload{Type: wire.CFGAck})
		}
	}
	return out, nil
}

func TestConfigExchange(t *testing.T) {
	// FlexVPN's request: an address, and the initiator's own routes ("route
	// set") as subnets. One CP per message (the codec enforces it).
	req := []ConfigPayload{
		{Type: wire.CFGRequest, Attributes: []wire.ConfigAttribute{{AttrType: wire.AttrInternalIP4Address},
			wire.SubnetAttribute(netip.MustParsePrefix("198.19.1.0/24"))}},
	}
	for _, fail := range []bool{false, true} {
		p := newPair(t, pairOpts{initProf: func(pr *Profile) { pr.Config = req }})
		cp := &cfgPolicy{testPolicy: p.b.policy}
		if fail {
			cp.fail = errors.New("pool exhausted")
		}
		p.b.e.cfg.Policy = cp // before any SA exists; the engine reads it per request
		info, err := p.initiate(testCtx(t))
		if fail {
			var ne *NotifyError
			if !errors.As(err, &ne) || ne.Code != uint16(wire.NotifyInternalAddressFailure) || info.State != "READY" {
				t.Fatalf("refused config: err %v, info %+v", err, info)
			}
			if len(p.a.inst.snapshot()) != 0 {
				t.Fatal("Child SA despite INTERNAL_ADDRESS_FAILURE")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(info.PeerConfig) != 1 || info.PeerConfig[0].Type != wire.CFGReply {
			t.Fatalf("initiator got %+v", info.PeerConfig)
		}
		a, _ := info.PeerConfig[0].Attributes[0].Addr()
		r, _ := info.PeerConfig[0].Attributes[1].Prefix()
		if a != netip.MustParseAddr("198.19.255.7") || r != netip.MustParsePrefix("198.19.0.0/24") {
			t.Fatalf("assigned %v, route %v", a, r)
		}
		waitFor(t, "B up", func() bool { return establishedCount(t, p.b) == 1 })
		bs := ikeSAs(t, p.b)[0]
		if len(bs.PeerConfig) != 1 || len(bs.LocalConfig) != 1 || len(cp.got) != 1 {
			t.Fatalf("responder view: peer %+v local %+v", bs.PeerConfig, bs.LocalConfig)
		}
		if set, _ := bs.PeerConfig[0].Attributes[1].Prefix(); set != netip.MustParsePrefix("198.19.1.0/24") {
			t.Fatalf("initiator's route %v", set)
		}
	}
}
