package ike

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

// vidPolicy is a responder policy that adds Vendor IDs to IKE_SA_INIT.
type vidPolicy struct {
	*testPolicy
	vids [][]byte
}

func (p *vidPolicy) ResponderVendorIDs(local, remote netip.AddrPort) [][]byte { return p.vids }

func hasVID(vs [][]byte, v string) bool {
	return slices.ContainsFunc(vs, func(b []byte) bool { return bytes.Equal(b, []byte(v)) })
}

// TestFeatureVendorIDsBothWays checks the seam CISCO-CTS-SGT negotiation
// uses: an initiator's profile and a responder's VendorIDPolicy add Vendor
// IDs to IKE_SA_INIT, and both Child SA records carry what each side sent,
// so the caller can enable a feature only when both sent it.
func TestFeatureVendorIDsBothWays(t *testing.T) {
	for _, tc := range []struct {
		name         string
		init, resp   bool
		wantA, wantB bool // A (initiator) saw B's VID, B saw A's
	}{
		{"both", true, true, true, true},
		{"initiator only", true, false, false, true},
		{"responder only", false, true, true, false},
		{"neither", false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sgt := []byte(wire.VendorCiscoCTSSGT)
			p := newPair(t, pairOpts{
				initProf: func(pr *Profile) {
					if tc.init {
						pr.VendorIDs = [][]byte{sgt}
					}
				},
				configure: func(c *Config) {
					if tp, ok := c.Policy.(*testPolicy); ok && tp.profile != nil && tc.resp {
						c.Policy = &vidPolicy{testPolicy: tp, vids: [][]byte{sgt}}
					}
				},
			})
			if _, err := p.initiate(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "both children", func() bool { return len(p.a.inst.snapshot()) == 1 && len(p.b.inst.snapshot()) == 1 })
			var a, b *ChildSA
			for _, c := range p.a.inst.snapshot() {
				a = c
			}
			for _, c := range p.b.inst.snapshot() {
				b = c
			}
			if got := hasVID(a.PeerVendorIDs, wire.VendorCiscoCTSSGT); got != tc.wantA {
				t.Errorf("initiator saw the responder's CTS VID: %v, want %v", got, tc.wantA)
			}
			if got := hasVID(b.PeerVendorIDs, wire.VendorCiscoCTSSGT); got != tc.wantB {
				t.Errorf("responder saw the initiator's CTS VID: %v, want %v", got, tc.wantB)
			}
			if got := hasVID(a.LocalVendorIDs, wire.VendorCiscoCTSSGT); got != tc.init {
				t.Errorf("initiator's LocalVendorIDs has CTS: %v, want %v", got, tc.init)
			}
			if got := hasVID(b.LocalVendorIDs, wire.VendorCiscoCTSSGT); got != tc.resp {
				t.Errorf("responder's LocalVendorIDs has CTS: %v, want %v", got, tc.resp)
			}
			if !hasVID(a.LocalVendorIDs, wire.VendorFlexVPNSupported) || !hasVID(b.PeerVendorIDs, wire.VendorFlexVPNSupported) {
				t.Errorf("FLEXVPN-SUPPORTED missing: local %q peer %q", a.LocalVendorIDs, b.PeerVendorIDs)
			}
			bs := ikeSAs(t, p.b)
			if len(bs) != 1 || hasVID(bs[0].LocalVendorIDs, wire.VendorCiscoCTSSGT) != tc.resp {
				t.Errorf("responder IKESAInfo.LocalVendorIDs: %q", bs[0].LocalVendorIDs)
			}
			if !tc.init || !tc.resp {
				return
			}
			// Both survive an IKE SA rekey and reach the next Child SA.
			ctx := testCtx(t)
			as := ikeSAs(t, p.a)
			if err := p.a.e.RekeyIKESA(ctx, as[0].LocalSPI); err != nil {
				t.Fatal(err)
			}
			var spi uint64
			waitFor(t, "rekeyed IKE SA", func() bool {
				n := ikeSAs(t, p.a)
				if len(n) == 1 && n[0].LocalSPI != as[0].LocalSPI {
					spi = n[0].LocalSPI
					return true
				}
				return false
			})
			if err := p.a.e.RekeyChildSA(ctx, spi, a.InboundSPI); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "rekeyed Child SA", func() bool {
				_, old := p.a.inst.snapshot()[a.InboundSPI]
				return !old && len(p.a.inst.snapshot()) == 1 && len(p.b.inst.snapshot()) == 1
			})
			for _, pe := range []*peer{p.a, p.b} {
				for _, c := range pe.inst.snapshot() {
					if !hasVID(c.PeerVendorIDs, wire.VendorCiscoCTSSGT) || !hasVID(c.LocalVendorIDs, wire.VendorCiscoCTSSGT) {
						t.Errorf("rekeyed Child SA lost the vendor IDs: local %q peer %q", c.LocalVendorIDs, c.PeerVendorIDs)
					}
				}
			}
		})
	}
}
