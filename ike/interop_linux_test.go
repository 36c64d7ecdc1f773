package ike

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

var interopSuites = []struct {
	name     string
	swanIKE  string
	swanESP  string
	ike, esp suite.Proposal
}{
	{"aes256gcm16-prfsha256-ecp256", "aes256gcm16-prfsha256-ecp256", "aes256gcm16",
		propGCM, espGCM},
	{"aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha256",
		suite.Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128, PRF: wire.PRFHMACSHA2256, DH: wire.DHMODP2048},
		espCBC},
}

func (ie *interopEnv) initiate(ctx context.Context) IKESAInfo {
	ie.t.Helper()
	info, err := ie.us.e.Initiate(ctx, InitiateRequest{
		Local: ie.us.addr(500), Remote: netip.AddrPortFrom(swanAddr, 500), Profile: ie.prof,
	})
	if err != nil {
		ie.t.Fatalf("initiate to strongSwan: %v", err)
	}
	return info
}

// TestInteropInitiator: esphub initiates to strongSwan, then rekeys, checks
// liveness and deletes, and strongSwan rekeys and deletes from its side.
func TestInteropInitiator(t *testing.T) {
	for _, sc := range interopSuites {
		t.Run(sc.name, func(t *testing.T) {
			ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP}, sc.ike, sc.esp)
			ctx := testCtx(t)
			info := ie.initiate(ctx)
			ie.check(1)
			spi := info.LocalSPI

			// Child SA rekey, ours.
			old := ikeSAs(t, ie.us)[0].Children[0].InboundSPI
			if err := ie.us.e.RekeyChildSA(ctx, spi, old); err != nil {
				t.Fatalf("rekey child: %v", err)
			}
			ie.check(1)
			// IKE SA rekey, ours.
			if err := ie.us.e.RekeyIKESA(ctx, spi); err != nil {
				t.Fatalf("rekey ike: %v", err)
			}
			ie.check(1)
			spi = ikeSAs(t, ie.us)[0].LocalSPI
			if spi == info.LocalSPI {
				t.Fatal("IKE SPI unchanged after rekey")
			}
			if err := ie.us.e.CheckLiveness(ctx, spi); err != nil {
				t.Fatalf("liveness: %v", err)
			}
			// strongSwan rekeys the Child SA and the IKE SA.
			ie.swanctl("--rekey", "--child", "net")
			waitFor(t, "strongSwan's child rekey", func() bool {
				cs := ikeSAs(t, ie.us)[0].Children
				return len(cs) == 1 && cs[0].Replaces != 0 && !cs[0].Initiator
			})
			ie.check(1)
			ie.swanctl("--rekey", "--ike", "ours")
			waitFor(t, "strongSwan's IKE rekey", func() bool {
				s := ikeSAs(t, ie.us)
				return len(s) == 1 && s[0].LocalSPI != spi
			})
			ie.check(1)
			// strongSwan deletes the Child SA, then we delete the IKE SA.
			ie.swanctl("--terminate", "--child", "net")
			waitFor(t, "child gone", func() bool { return len(ie.us.inst.snapshot()) == 0 })
			spi = ikeSAs(t, ie.us)[0].LocalSPI
			if err := ie.us.e.DeleteIKESA(ctx, spi); err != nil {
				t.Fatalf("delete: %v", err)
			}
			waitFor(t, "strongSwan forgets the SA", func() bool { return len(ie.swanSAs()) == 0 })
		})
	}
}

// TestInteropResponder: strongSwan initiates to esphub; DPD and Delete from
// strongSwan's side, then a Child SA created and deleted by us.
func TestInteropResponder(t *testing.T) {
	for _, sc := range interopSuites {
		t.Run(sc.name, func(t *testing.T) {
			ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP, dpd: time.Second}, sc.ike, sc.esp)
			ctx := testCtx(t)
			ie.swanctl("--initiate", "--child", "net", "--ike", "ours")
			ie.check(1)
			info := ikeSAs(t, ie.us)[0]
			if info.Initiator || !info.RemoteID.Equal(swanID) {
				t.Fatalf("our view: %+v", info)
			}
			// strongSwan's DPD (dpd_delay=1s) reaches us as empty INFORMATIONALs.
			before := ie.us.e.Stats().Get(CounterRxMessages)
			time.Sleep(2500 * time.Millisecond)
			if ie.us.e.Stats().Get(CounterRxMessages) == before {
				t.Fatal("no liveness checks from strongSwan")
			}
			// Our rekeys as responder-of-origin.
			if err := ie.us.e.RekeyChildSA(ctx, info.LocalSPI, info.Children[0].InboundSPI); err != nil {
				t.Fatalf("rekey child: %v", err)
			}
			ie.check(1)
			if err := ie.us.e.RekeyIKESA(ctx, info.LocalSPI); err != nil {
				t.Fatalf("rekey ike: %v", err)
			}
			ie.check(1)
			// strongSwan deletes everything.
			ie.swanctl("--terminate", "--ike", "ours")
			waitFor(t, "our SA gone", func() bool { return len(ikeSAs(t, ie.us)) == 0 && len(ie.us.inst.snapshot()) == 0 })
			if ie.us.countEvents(EventIKEDown) != 1 {
				t.Fatal("no ike-down event")
			}
		})
	}
}

// TestInteropBehindNAT: esphub behind a real NAT (nftables masquerade)
// initiates; both sides detect it, IKE moves to 4500, NAT keepalives flow,
// and strongSwan rekeys and checks liveness through the NAT.
func TestInteropBehindNAT(t *testing.T) {
	sc := interopSuites[0]
	ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP, nat: true, dpd: time.Second}, sc.ike, sc.esp)
	ie.prof.NATKeepalive = 500 * time.Millisecond
	ctx := testCtx(t)
	info := ie.initiate(ctx)
	if !info.NATLocal {
		t.Fatalf("NAT not detected: %+v", info)
	}
	ie.check(1)
	time.Sleep(1500 * time.Millisecond)
	ie.swanctl("--rekey", "--child", "net")
	waitFor(t, "strongSwan's child rekey through the NAT", func() bool {
		cs := ikeSAs(t, ie.us)[0].Children
		return len(cs) == 1 && cs[0].Replaces != 0 && !cs[0].Initiator
	})
	ie.check(1)
	if err := ie.us.e.RekeyIKESA(ctx, info.LocalSPI); err != nil {
		t.Fatalf("rekey ike through the NAT: %v", err)
	}
	ie.check(1)
	ie.swanctl("--terminate", "--ike", "ours")
	waitFor(t, "our SA gone", func() bool { return len(ikeSAs(t, ie.us)) == 0 })
}

// TestInteropConfigPayloads: strongSwan asks us for a virtual IP and gets
// the address our Profile.ConfigReply assigns; we ask strongSwan's pool for one.
func TestInteropConfigPayloads(t *testing.T) {
	sc := interopSuites[0]
	t.Run("strongSwan-requests", func(t *testing.T) {
		ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP, vips: []string{"0.0.0.0"}}, sc.ike, sc.esp)
		ie.swanctl("--initiate", "--child", "net", "--ike", "ours")
		ie.check(1)
		s := ie.swanSAs()[0]
		if len(s.LocalVIPs) != 1 || s.LocalVIPs[0] != "198.19.255.7" {
			t.Fatalf("strongSwan's virtual IPs: %v", s.LocalVIPs)
		}
		o := ikeSAs(t, ie.us)[0]
		if o.PeerConfig == nil || o.PeerConfig.CFGType != wire.CFGRequest || o.LocalConfig == nil || o.LocalConfig.CFGType != wire.CFGReply {
			t.Fatalf("our view: peer %+v local %+v", o.PeerConfig, o.LocalConfig)
		}
	})
	t.Run("we-request", func(t *testing.T) {
		ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP, pool: "198.19.254.0/24"}, sc.ike, sc.esp)
		ie.prof.ConfigRequest = &wire.Configuration{Attributes: []wire.ConfigAttribute{{AttrType: wire.AttrInternalIP4Address}}}
		info := ie.initiate(testCtx(t))
		ie.check(1)
		var got netip.Addr
		if info.PeerConfig != nil {
			for _, a := range info.PeerConfig.Attributes {
				if a.AttrType == wire.AttrInternalIP4Address {
					got, _ = a.Addr()
				}
			}
		}
		if !netip.MustParsePrefix("198.19.254.0/24").Contains(got) {
			t.Fatalf("address from strongSwan's pool: %v (config %+v)", got, info.PeerConfig)
		}
		if s := ie.swanSAs()[0]; len(s.RemoteVIPs) != 1 || s.RemoteVIPs[0] != got.String() {
			t.Fatalf("strongSwan assigned %v, we got %v", s.RemoteVIPs, got)
		}
	})
}

// TestInteropPFS: Child SA rekeys with PFS (a KE payload in CREATE_CHILD_SA,
// KEYMAT from the new shared secret) started by either side.
func TestInteropPFS(t *testing.T) {
	for _, g := range []struct {
		name string
		swan string
		dh   wire.DHGroup
	}{{"ecp256", "aes256gcm16-ecp256", wire.DHECP256}, {"modp2048", "aes256gcm16-modp2048", wire.DHMODP2048}} {
		t.Run(g.name, func(t *testing.T) {
			sc := interopSuites[0]
			esp := espGCM
			esp.DH = g.dh
			ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: g.swan}, sc.ike, esp)
			ctx := testCtx(t)
			info := ie.initiate(ctx)
			ie.check(1)
			old := ikeSAs(t, ie.us)[0].Children[0]
			if err := ie.us.e.RekeyChildSA(ctx, info.LocalSPI, old.InboundSPI); err != nil {
				t.Fatalf("rekey with PFS: %v", err)
			}
			ie.check(1)
			c := ikeSAs(t, ie.us)[0].Children[0]
			if c.Proposal.DH != g.dh {
				t.Fatalf("rekeyed Child SA without PFS: %v", c.Proposal)
			}
			ie.swanctl("--rekey", "--child", "net")
			waitFor(t, "strongSwan's PFS rekey", func() bool {
				cs := ikeSAs(t, ie.us)[0].Children
				return len(cs) == 1 && !cs[0].Initiator && cs[0].Replaces == c.InboundSPI
			})
			ie.check(1)
		})
	}
}

// TestInteropInvalidKE: the KE group of the first proposal is not the one
// the responder wants, so IKE_SA_INIT takes an INVALID_KE_PAYLOAD round, in
// both directions.
func TestInteropInvalidKE(t *testing.T) {
	modp := suite.Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHMODP2048}
	t.Run("we-initiate", func(t *testing.T) {
		ie := newInterop(t, swanOpts{ike: "aes256gcm16-prfsha256-modp2048", esp: "aes256gcm16"}, modp, espGCM)
		ie.prof.IKEProposals = []suite.Proposal{propGCM, modp}
		info := ie.initiate(testCtx(t))
		if info.Proposal.DH != wire.DHMODP2048 {
			t.Fatalf("negotiated %v", info.Proposal)
		}
		ie.check(1)
	})
	t.Run("strongSwan-initiates", func(t *testing.T) {
		ie := newInterop(t, swanOpts{ike: "aes256gcm16-prfsha256-ecp256-modp2048", esp: "aes256gcm16"}, modp, espGCM)
		ie.swanctl("--initiate", "--child", "net", "--ike", "ours")
		ie.check(1)
		if got := ie.us.e.Stats().Get(CounterInvalidKESent); got != 1 {
			t.Fatalf("INVALID_KE_PAYLOAD sent %d times", got)
		}
		if s := ie.swanSAs()[0]; s.DHGroup != "MODP_2048" {
			t.Fatalf("strongSwan negotiated %s", s.DHGroup)
		}
	})
}

// TestInteropLifetimeRekeys: strongSwan and we rekey the IKE SA and the
// Child SA on our own timers every 3 s, at about the same moments, so that
// the rekeys collide with each other and with the Deletes that end them
// (RFC 7296 §2.8.1, §2.8.2). Both views must then converge on one IKE SA
// with one Child SA and the same keys: a collision resolved differently by
// the two sides leaves a redundant SA that both keep rekeying for ever.
//
// ESPHUB_REKEY_STORM_SECS lengthens the storm (default 15 s) and
// ESPHUB_REKEY_LOSS adds random loss (percent, both ways) for a soak.
func TestInteropLifetimeRekeys(t *testing.T) {
	storm := 15 * time.Second
	if s := os.Getenv("ESPHUB_REKEY_STORM_SECS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("ESPHUB_REKEY_STORM_SECS=%q: want a number of seconds", s)
		}
		storm = time.Duration(n) * time.Second
	}
	sc := interopSuites[0]
	o := swanOpts{ike: sc.swanIKE, esp: sc.swanESP, rekey: 3 * time.Second}
	if l := os.Getenv("ESPHUB_REKEY_LOSS"); l != "" {
		if _, err := strconv.Atoi(l); err != nil {
			t.Fatalf("ESPHUB_REKEY_LOSS=%q: want a percentage", l)
		}
		o.spec = strings.Replace(strings.Replace(interopSpec, "addr: [198.18.0.2/24]}", "addr: [198.18.0.2/24], loss: "+l+"}", 1),
			"addr: [198.18.0.1/24]}", "addr: [198.18.0.1/24], loss: "+l+"}", 1)
	}
	ie := newInterop(t, o, sc.ike, sc.esp)
	ie.prof.Lifetime, ie.prof.RekeyMargin = 60*time.Second, 57*time.Second
	ie.prof.Child.Lifetime, ie.prof.Child.RekeyMargin = 60*time.Second, 57*time.Second
	info := ie.initiate(testCtx(t))
	ie.check(1)
	most := 0
	for end := time.Now().Add(storm); time.Now().Before(end); {
		time.Sleep(time.Second)
		n := 0
		for _, s := range ikeSAs(t, ie.us) {
			n += len(s.Children)
		}
		most = max(most, n)
	}
	ie.check(1)
	now := ikeSAs(t, ie.us)[0]
	if now.LocalSPI == info.LocalSPI {
		t.Fatal("IKE SA never rekeyed")
	}
	st := ie.us.e.Stats()
	rekeys := ie.us.countEvents(EventChildRekeyed)
	if rekeys < int(storm/(6*time.Second)) {
		t.Fatalf("only %d Child SA rekeys in %v: the storm did not happen", rekeys, storm)
	}
	t.Logf("storm of %v: Child SA rekeys %d, IKE SA rekeys %d, collisions %d, most Child SAs at once %d, replaced SAs expired %d",
		storm, rekeys, ie.us.countEvents(EventIKERekeyed), st.Get(CounterRekeyCollisions), most, st.Get(CounterRekeyedExpired))
}
