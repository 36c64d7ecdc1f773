package control

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/esphub/esphub/ike/transport"
)

// The front-door VRF of an IKE request is the VRF of the interface holding
// the address it arrived on: a profile with `match fvrf inet` accepts
// spokes reaching a WAN in vrf inet, and a profile without match fvrf
// (global VRF only) does not. The IKEv2 policy, `match fvrf inet`, would
// refuse IKE_SA_INIT if the FVRF were not found.
func TestMatchFVRFByArrivalInterface(t *testing.T) {
	withFVRF := func(match string) string {
		c := strings.Replace(hubCfg, "crypto ikev2 proposal p\n", "vrf definition inet\n address-family ipv4\ncrypto ikev2 proposal p\n", 1)
		c = strings.Replace(c, "crypto ikev2 policy p\n proposal p\n", "crypto ikev2 policy p\n match fvrf inet\n proposal p\n", 1)
		c = strings.Replace(c, "interface GigabitEthernet1\n ip address 198.18.0.2", "interface GigabitEthernet1\n vrf forwarding inet\n ip address 198.18.0.2", 1)
		return strings.Replace(c, " match identity remote fqdn domain lab.example\n", " match identity remote fqdn domain lab.example\n"+match, 1)
	}
	if got, vrf := arrivalInterface(parse(t, "hub.cfg", withFVRF("")), mustAddr("198.18.0.2")); got != "GigabitEthernet1" || vrf != "inet" {
		t.Fatalf("arrival interface %q vrf %q, want GigabitEthernet1 in inet", got, vrf)
	}

	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", withFVRF("")))
	spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", spokeCfg))
	// Global-only profile, WAN in vrf inet: the policy matches (IKE_SA_INIT
	// passes), the profile does not (IKE_AUTH fails).
	waitFor(t, "a refused IKE_AUTH", func() bool { return hub.d.Failures()["AUTHENTICATION_FAILED"] > 0 })
	if f := hub.d.Failures()["NO_PROPOSAL_CHOSEN"]; f != 0 {
		t.Errorf("%d IKE_SA_INIT refused: the policy's match fvrf inet did not see the FVRF", f)
	}
	if n := len(hub.d.Sessions()); n != 0 {
		t.Fatalf("a profile without match fvrf accepted a peer arriving in vrf inet (%d sessions)", n)
	}
	hub.d.Reload(parse(t, "hub.cfg", withFVRF(" match fvrf inet\n")))
	waitFor(t, "the spoke's session through the FVRF profile", func() bool {
		return len(hub.d.Sessions()) == 1 && len(spoke.d.Sessions()) == 1
	})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
