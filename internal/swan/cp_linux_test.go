package swan_test

import (
	"context"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/swan"
)

// TestStrongSwanConfigPayload: B serves a virtual IP pool, A asks for an
// address; both sides list the assigned address and the narrowed selector.
func TestStrongSwanConfigPayload(t *testing.T) {
	p := swan.NewPair(t)
	cfgA, cfgB := pairConfigs(p, "aes256gcm16-prfsha256-ecp256", "aes256gcm16")
	cfgA.Conns[0].VIPs = []string{"0.0.0.0"}
	// The initiator must put the address somewhere for its route's source.
	cfgA.Charon = map[string]string{"install_virtual_ip": "yes"}
	cfgA.Conns[0].Children[0].LocalTS = []string{"dynamic"}
	cfgB.Pools = map[string]string{"spokes": "198.19.255.8/30"}
	cfgB.Conns[0].Pools = []string{"spokes"}
	cfgB.Conns[0].Children[0].RemoteTS = []string{"dynamic"}
	a := swan.StartT(t, p.A, cfgA)
	b := swan.StartT(t, p.B, cfgB)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Initiate(ctx, "a-b", "net"); err != nil {
		t.Fatal(err)
	}
	installed := func(sa swan.IKESA) bool { _, ok := sa.Child("net", "INSTALLED"); return ok }
	saA, err := a.WaitSA(ctx, installed)
	if err != nil {
		t.Fatal(err)
	}
	saB, err := b.WaitSA(ctx, installed)
	if err != nil {
		t.Fatal(err)
	}
	// The pool's first usable address (strongSwan skips the network address).
	const vip = "198.19.255.9"
	if len(saA.LocalVIPs) != 1 || saA.LocalVIPs[0] != vip || len(saB.RemoteVIPs) != 1 || saB.RemoteVIPs[0] != vip {
		t.Errorf("virtual IPs: A local %v, B remote %v; want %s", saA.LocalVIPs, saB.RemoteVIPs, vip)
	}
	if c, _ := saA.Child("net", "INSTALLED"); len(c.LocalTS) != 1 || c.LocalTS[0] != vip+"/32" {
		t.Errorf("A's local TS %v, want the virtual IP", c.LocalTS)
	}
	if _, err := b.WaitLog(ctx, `assigning virtual IP 198\.19\.255\.9 to peer 'a\.test'`); err != nil {
		t.Error(err)
	}
	if out, err := swan.Exec(p.A, "ping", "-c", "2", "-i", "0.2", "-W", "5", "-I", vip, p.InnerB.String()); err != nil {
		t.Errorf("ping from the virtual IP: %v\n%s", err, out)
	}
}
