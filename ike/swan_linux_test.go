package ike

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/internal/swan"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// Interop with strongSwan (internal/swan: charon with kernel-libipsec in a
// lab namespace, driven with swanctl) against our engine on the UDP
// transport in the other namespace.

// interopSpec: our engine in "ours", strongSwan in "swan", one link.
const interopSpec = `
prefix: ikei
description: esphub IKE engine against strongSwan
nodes:
  ours:
    lo: [198.19.1.1/32]
  swan:
    lo: [198.19.2.1/32]
links:
  - a: {node: ours, iface: wan, addr: [198.18.0.1/24]}
    b: {node: swan, iface: wan, addr: [198.18.0.2/24]}
`

// interopNATSpec puts our engine behind an nftables masquerade.
const interopNATSpec = `
prefix: ikin
description: esphub IKE engine behind a NAT, against strongSwan
nodes:
  ours:
    lo: [198.19.1.1/32]
    routes:
      - {to: default, via: 198.18.1.1}
  nat:
    nat: {masquerade: [wan]}
  swan:
    lo: [198.19.2.1/32]
links:
  - a: {node: ours, iface: wan, addr: [198.18.1.2/24]}
    b: {node: nat, iface: lan, addr: [198.18.1.1/24]}
  - a: {node: nat, iface: wan, addr: [198.18.0.1/24]}
    b: {node: swan, iface: wan, addr: [198.18.0.2/24]}
`

var (
	oursAddr    = netip.MustParseAddr("198.18.0.1")
	oursNATAddr = netip.MustParseAddr("198.18.1.2")
	swanAddr    = netip.MustParseAddr("198.18.0.2")
	oursID      = IdentityFQDN("ours.test")
	swanID      = IdentityFQDN("swan.test")
	swanPSK     = "interop-test-psk-0123456789"
)

type swanOpts struct {
	ike, esp string        // strongSwan proposal strings
	dpd      time.Duration // strongSwan's dpd_delay (0: off)
	nat      bool          // our engine sits behind the lab's NAT box
	vips     []string      // strongSwan requests virtual IPs (CFG_REQUEST)
	pool     string        // strongSwan serves addresses from this pool
	// rekey, when set, makes strongSwan rekey the IKE SA and the Child SA
	// on its own every rekey (no random spread).
	rekey time.Duration
	// connExtra and charon add swanctl connection and charon.* settings;
	// configure adjusts our engine's Config.
	connExtra, charon map[string]string
	configure         func(*Config)
	// spec replaces interopSpec (same node names and addresses).
	spec string
	// swanDir is charon's directory, prepared with x509/, x509ca/ and
	// private/ for certificates; localAuth and remoteAuth its swanctl auth
	// ("pubkey"), psk when empty.
	swanDir, localAuth, remoteAuth string
}

// interopEnv is a lab with charon in "swan" and our engine in "ours".
type interopEnv struct {
	t    *testing.T
	lab  *lab.Lab
	sw   *swan.Instance
	us   *peer
	prof *Profile
	nat  bool
}

func newInterop(t *testing.T, o swanOpts, ikeProp, espProp suite.Proposal) *interopEnv {
	testenv.Short(t)
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, swan.Charon, swan.Swanctl, "ip", "nft")
	spec, local, remote := interopSpec, oursAddr, oursAddr.String()
	if o.nat {
		spec, local, remote = interopNATSpec, oursNATAddr, "%any"
	}
	if o.spec != "" {
		spec = o.spec
	}
	l := labtest.Up(t, spec)
	rekeyIKE, rekeyChild := time.Duration(-1), time.Duration(-1)
	var connExtra, childExtra map[string]string
	if o.rekey > 0 {
		rekeyIKE, rekeyChild = o.rekey, o.rekey
		connExtra = map[string]string{"over_time": "60s", "rand_time": "0s"}
		childExtra = map[string]string{"life_time": "120s", "rand_time": "0s"}
	}
	for k, v := range o.connExtra {
		if connExtra == nil {
			connExtra = map[string]string{}
		}
		connExtra[k] = v
	}
	charon := map[string]string{"retransmit_timeout": "1.0", "retransmit_tries": "3"}
	for k, v := range o.charon {
		charon[k] = v
	}
	var pools map[string]string
	var connPools []string
	if o.pool != "" {
		pools, connPools = map[string]string{"ours": o.pool}, []string{"ours"}
	}
	sw := swan.StartT(t, l.Netns("swan"), swan.Config{
		Name:  "peer",
		Dir:   o.swanDir,
		Pools: pools,
		Conns: []swan.Conn{{
			Name: "ours", LocalAddrs: []string{swanAddr.String()}, RemoteAddrs: []string{remote},
			Proposals: []string{o.ike}, LocalID: "swan.test", RemoteID: "ours.test",
			LocalAuth: o.localAuth, RemoteAuth: o.remoteAuth,
			DPDDelay: o.dpd, RekeyTime: rekeyIKE, VIPs: o.vips, Pools: connPools, Extra: connExtra,
			Children: []swan.Child{{Name: "net", LocalTS: []string{"198.19.2.1/32"}, RemoteTS: []string{"198.19.1.1/32"},
				ESPProposals: []string{o.esp}, RekeyTime: rekeyChild, Extra: childExtra}},
		}},
		Secrets: []swan.Secret{{Name: "ours", IDs: []string{"swan.test", "ours.test"}, PSK: swanPSK}},
		Charon:  charon,
	})
	tr, err := transport.ListenUDP(transport.UDPConfig{Addrs: []netip.Addr{local}, NetNS: l.Netns("ours")})
	if err != nil {
		t.Fatal(err)
	}
	child := ChildConfig{
		Name: "net", Proposals: []suite.Proposal{espProp},
		LocalTS:  []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("198.19.1.1/32"))},
		RemoteTS: []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("198.19.2.1/32"))},
	}
	prof := &Profile{
		Name: "swan", LocalID: oursID, RemoteID: swanID, LocalPSK: []byte(swanPSK), RemotePSK: []byte(swanPSK),
		IKEProposals: []suite.Proposal{ikeProp}, Child: child,
		// A FlexVPN pool of one: every address request gets 198.19.255.7.
		ConfigReply: func(req *wire.Configuration) (*wire.Configuration, error) {
			return &wire.Configuration{Attributes: []wire.ConfigAttribute{
				wire.AddrAttribute(wire.AttrInternalIP4Address, netip.MustParseAddr("198.19.255.7")),
			}}, nil
		},
	}
	pol := &testPolicy{props: []suite.Proposal{ikeProp}, remoteID: swanID, profile: prof}
	us := &peer{ip: local, inst: &recInstaller{sas: map[uint32]*ChildSA{}}, policy: pol, tr: tr}
	cfg := Config{Transport: tr, Policy: pol, Installer: us.inst, OnEvent: us.onEvent,
		RetransmitTimeout: 500 * time.Millisecond, RetransmitTries: 4, Logger: testLogger(t)}
	if o.configure != nil {
		o.configure(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	us.e = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; tr.Close() })
	return &interopEnv{t: t, lab: l, sw: sw, us: us, prof: prof, nat: o.nat}
}

func (ie *interopEnv) swanSAs() []swan.IKESA {
	ie.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sas, err := ie.sw.ListSAs(ctx)
	if err != nil {
		ie.t.Fatal(err)
	}
	return sas
}

func (ie *interopEnv) swanctl(args ...string) {
	ie.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := ie.sw.Swanctl(ctx, args...); err != nil {
		ie.t.Fatalf("swanctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func installed(s swan.IKESA) []swan.ChildSA {
	var out []swan.ChildSA
	for _, c := range s.Children {
		if c.State == "INSTALLED" {
			out = append(out, c)
		}
	}
	return out
}

// check compares strongSwan's view with ours: one IKE SA with the same SPIs,
// the same Child SA SPI pairs, IKE and ESP on 4500 (libipsec forces UDP
// encapsulation; behind the lab NAT both sides see the real NAT), and for
// every Child SA the very keys charon installed under those SPIs.
func (ie *interopEnv) check(wantChildren int) {
	t := ie.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Views taken a moment apart can straddle a rekey: retry until
		// they agree, fail only when they never do.
		ours := ikeSAs(t, ie.us)
		theirs := ie.swanSAs()
		err := ie.agree(ours, theirs, wantChildren)
		if err == nil {
			s := theirs[0]
			t.Logf("agree with strongSwan: IKE %016x_i %016x_r, Child SAs %d, keys identical", s.SPIi, s.SPIr, wantChildren)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v\nours %+v\nstrongSwan %+v", err, ours, theirs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// agree compares the two views: one IKE SA with the same SPIs, the same
// Child SA SPI pairs, IKE and ESP on 4500 (libipsec forces UDP
// encapsulation; behind the lab NAT both sides see the real NAT), and for
// every Child SA the very keys charon installed under those SPIs.
func (ie *interopEnv) agree(ours []IKESAInfo, theirs []swan.IKESA, wantChildren int) error {
	if len(ours) != 1 || len(theirs) != 1 || theirs[0].State != "ESTABLISHED" ||
		len(ours[0].Children) != wantChildren || len(installed(theirs[0])) != wantChildren {
		return fmt.Errorf("views differ in shape")
	}
	o, s := ours[0], theirs[0]
	spiI, spiR := o.LocalSPI, o.RemoteSPI
	if !o.Initiator {
		spiI, spiR = spiR, spiI
	}
	if s.SPIi != spiI || s.SPIr != spiR || s.Initiator == o.Initiator {
		return fmt.Errorf("IKE SA: strongSwan %016x_i %016x_r initiator=%v, ours %016x_i %016x_r initiator=%v", s.SPIi, s.SPIr, s.Initiator, spiI, spiR, o.Initiator)
	}
	if o.Local.Port() != 4500 || o.Remote.Port() != 4500 || s.LocalPort != 4500 || !o.NATRemote || ie.nat && (!o.NATLocal || !s.NATRemote) {
		return fmt.Errorf("NAT-T: ours %v -> %v (NAT local %v remote %v), strongSwan port %d NAT remote %v",
			o.Local, o.Remote, o.NATLocal, o.NATRemote, s.LocalPort, s.NATRemote)
	}
	if !s.RemoteHost.IsValid() || ie.nat == (s.RemoteHost == o.Local.Addr()) {
		return fmt.Errorf("strongSwan sees us at %v, we are %v (nat %v)", s.RemoteHost, o.Local, ie.nat)
	}
	keys, err := ie.sw.Keys()
	if err != nil {
		return err
	}
	for _, c := range o.Children {
		var sc *swan.ChildSA
		for _, x := range installed(s) {
			if x.SPIIn == c.OutboundSPI && x.SPIOut == c.InboundSPI {
				sc = &x
			}
		}
		if sc == nil {
			return fmt.Errorf("our Child SA in %08x out %08x not in strongSwan's list %+v", c.InboundSPI, c.OutboundSPI, s.Children)
		}
		if !sc.Encap || !c.UDPEncap || c.Remote.Port() != 4500 || sc.Mode != "TUNNEL" {
			return fmt.Errorf("Child SA encapsulation: strongSwan %+v, ours %+v", sc, c)
		}
		k, ok := keys.ChildBySPI(sc.SPIIn)
		if !ok {
			return fmt.Errorf("charon logged no keys for SPI %08x", sc.SPIIn)
		}
		inE, inI := k.Inbound()
		outE, outI := k.Outbound()
		if !bytes.Equal(inE, c.OutboundKeys.Encr) || !bytes.Equal(inI, c.OutboundKeys.Integ) ||
			!bytes.Equal(outE, c.InboundKeys.Encr) || !bytes.Equal(outI, c.InboundKeys.Integ) {
			// Not retried into success by accident: keys under one SPI
			// never change, so this stays an error until the deadline.
			return fmt.Errorf("Child SA %08x/%08x: keys differ from strongSwan's", c.InboundSPI, c.OutboundSPI)
		}
	}
	return nil
}

// syncBuffer collects the engine's log; it is printed if the test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func testLogger(t *testing.T) *slog.Logger {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			buf.mu.Lock()
			lines := strings.Split(buf.b.String(), "\n")
			if len(lines) > 60 {
				lines = lines[len(lines)-60:]
			}
			t.Logf("engine log:\n%s", strings.Join(lines, "\n"))
			buf.mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
