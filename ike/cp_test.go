package ike

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// TestConfigExchange runs FlexVPN's route exchange: the spoke asks for an
// address and announces its LAN; the hub assigns from its pool and pushes a
// summary. Each side sees the other's payload in IKESAInfo.
func TestConfigExchange(t *testing.T) {
	spokeLAN := netip.MustParsePrefix("198.19.1.0/24")
	summary := netip.MustParsePrefix("198.19.0.0/16")
	assigned := netip.MustParseAddr("198.19.254.7")
	var seen *wire.Configuration
	p := newPair(t, pairOpts{
		net: transport.MemOptions{Loss: 0.3, Reorder: 0.2, ReorderDelay: 15 * time.Millisecond, Seed: 7},
		initProf: func(pr *Profile) {
			pr.ConfigRequest = &wire.Configuration{Attributes: []wire.ConfigAttribute{
				{AttrType: wire.AttrInternalIP4Address},
				wire.SubnetAttribute(spokeLAN),
			}}
		},
		respProf: func(pr *Profile) {
			pr.ConfigReply = func(req *wire.Configuration) (*wire.Configuration, error) {
				seen = req
				return &wire.Configuration{Attributes: []wire.ConfigAttribute{
					wire.AddrAttribute(wire.AttrInternalIP4Address, assigned),
					wire.SubnetAttribute(summary),
				}}, nil
			}
		},
	})
	info, err := p.initiate(testCtx(t))
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if info.PeerConfig == nil || info.PeerConfig.CFGType != wire.CFGReply {
		t.Fatalf("initiator got no CFG_REPLY: %+v", info.PeerConfig)
	}
	if got, ok := info.PeerConfig.AssignedPrefix(false); !ok || got.Addr() != assigned {
		t.Fatalf("assigned address = %v %v", got, ok)
	}
	if got := info.PeerConfig.AppendSubnets(nil); !slices.Equal(got, []netip.Prefix{summary}) {
		t.Fatalf("pushed subnets = %v", got)
	}
	if info.LocalConfig == nil || info.LocalConfig.CFGType != wire.CFGRequest {
		t.Fatalf("initiator's own request not recorded: %+v", info.LocalConfig)
	}
	waitFor(t, "responder up", func() bool { return establishedCount(t, p.b) == 1 })
	bs := ikeSAs(t, p.b)
	if bs[0].PeerConfig == nil || !slices.Equal(bs[0].PeerConfig.AppendSubnets(nil), []netip.Prefix{spokeLAN}) {
		t.Fatalf("responder's view of the request: %+v", bs[0].PeerConfig)
	}
	if bs[0].LocalConfig == nil || bs[0].LocalConfig.CFGType != wire.CFGReply {
		t.Fatalf("responder's reply not recorded: %+v", bs[0].LocalConfig)
	}
	if seen == nil || seen.CFGType != wire.CFGRequest {
		t.Fatalf("ConfigReply saw %+v", seen)
	}
	if n := checkChildKeys(t, p.a, p.b); n != 1 {
		t.Fatalf("want 1 Child SA with the config exchange, got %d", n)
	}
}

// TestConfigExchangeAddressFailure: an exhausted pool answers
// INTERNAL_ADDRESS_FAILURE; the IKE SA comes up without a Child SA
// (RFC 7296 §3.10.1) and the failure is counted.
func TestConfigExchangeAddressFailure(t *testing.T) {
	p := newPair(t, pairOpts{
		initProf: func(pr *Profile) {
			pr.ConfigRequest = &wire.Configuration{Attributes: []wire.ConfigAttribute{{AttrType: wire.AttrInternalIP4Address}}}
		},
		respProf: func(pr *Profile) {
			pr.ConfigReply = func(*wire.Configuration) (*wire.Configuration, error) {
				return nil, errors.New("pool flex-pool exhausted")
			}
		},
	})
	_, err := p.initiate(testCtx(t))
	var ne *NotifyError
	if !errors.As(err, &ne) || ne.Notify != wire.NotifyInternalAddressFailure {
		t.Fatalf("initiate error = %v, want INTERNAL_ADDRESS_FAILURE", err)
	}
	waitFor(t, "responder up", func() bool { return establishedCount(t, p.b) == 1 })
	if len(p.b.inst.snapshot()) != 0 || len(p.a.inst.snapshot()) != 0 {
		t.Fatal("a Child SA was installed despite the address failure")
	}
	if got := p.b.e.Stats().Get(CounterConfigFailures); got != 1 {
		t.Fatalf("config_failures = %d, want 1", got)
	}
}
