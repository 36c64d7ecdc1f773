package ike

import (
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/internal/swan"
)

// redirectSpec is interopSpec with a second address for our second gateway.
const redirectSpec = `
prefix: ikrd
description: esphub gateways redirecting strongSwan
nodes:
  ours:
    lo: [198.19.1.1/32]
  swan:
    lo: [198.19.2.1/32]
links:
  - a: {node: ours, iface: wan, addr: [198.18.0.1/24, 198.18.0.3/24]}
    b: {node: swan, iface: wan, addr: [198.18.0.2/24]}
`

// TestInteropRedirect: strongSwan (charon.follow_redirects, on by default)
// initiates to our first gateway, which redirects it in IKE_SA_INIT to our
// second gateway, where the SA comes up.
//
// The IKE_AUTH variant runs only with ESPHUB_SWAN_AUTH_REDIRECT=1: Debian
// 12's charon 5.9.8-5+deb12u6 verifies our AUTH, logs "redirected to
// 198.18.0.3", resets the IKE_SA (CONNECTING => CREATED), sends its
// IKE_SA_INIT to the new gateway and then aborts with "free(): double free
// detected in tcache 2" on its stderr (SIGABRT), a memory error in
// charon's own restart path. Our response is RFC 5685 §6's: IDr, AUTH,
// N(REDIRECT), no Child SA. Our in-memory tests cover the client side.
func TestInteropRedirect(t *testing.T) {
	for _, at := range redirectPhases() {
		t.Run(at, func(t *testing.T) {
			second := netip.MustParseAddr("198.18.0.3")
			rp := &redirectPolicy{}
			if at == "init" {
				rp.init = second
			} else {
				rp.auth = second
			}
			sc := interopSuites[0]
			ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP, spec: redirectSpec,
				charon:    map[string]string{"follow_redirects": "yes"},
				configure: func(c *Config) { rp.Policy = c.Policy; c.Policy = rp },
			}, sc.ike, sc.esp)
			tr, err := transport.ListenUDP(transport.UDPConfig{Addrs: []netip.Addr{second}, NetNS: ie.lab.Netns("ours")})
			if err != nil {
				t.Fatal(err)
			}
			pol := &testPolicy{props: []suite.Proposal{sc.ike}, remoteID: swanID, profile: ie.prof}
			g := &peer{ip: second, inst: &recInstaller{sas: map[uint32]*ChildSA{}}, policy: pol, tr: tr}
			g.e, err = New(Config{Transport: tr, Policy: pol, Installer: g.inst, OnEvent: g.onEvent, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = g.e.Run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done; tr.Close() })

			if err := ie.sw.Initiate(testCtx(t), "ours", "net"); err != nil {
				t.Logf("swanctl initiate: %v (the redirect may end the first attempt)", err)
			}
			wctx, wcancel := context.WithTimeout(context.Background(), 30*1e9)
			defer wcancel()
			s, err := ie.sw.WaitSA(wctx, func(s swan.IKESA) bool {
				return s.State == "ESTABLISHED" && s.RemoteHost == second && len(installed(s)) == 1
			})
			if err != nil {
				t.Fatalf("strongSwan never established with the second gateway: %v\n%s", err, ie.sw.LogTail(60))
			}
			waitFor(t, "child on the second gateway", func() bool { return len(g.inst.snapshot()) == 1 })
			waitFor(t, "first gateway empty", func() bool { return len(ikeSAs(t, ie.us)) == 0 })
			if ie.us.e.Stats().Get(CounterRedirectsSent) != 1 {
				t.Fatalf("first gateway: %v", ie.us.e.Stats().Map())
			}
			t.Logf("strongSwan followed the %s redirect: IKE %016x_i with %v", at, s.SPIi, s.RemoteHost)
		})
	}
}

// redirectPhases are the redirect variants TestInteropRedirect runs.
func redirectPhases() []string {
	if os.Getenv("ESPHUB_SWAN_AUTH_REDIRECT") == "1" {
		return []string{"init", "auth"}
	}
	return []string{"init"}
}
