package swan

import (
	"fmt"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// Pair is two network namespaces joined by a veth pair (veth0 on each
// side), the smallest topology for a strongSwan interop test.
//
//	A: veth0 198.18.0.1/24, 2001:db8::1/64; lo 198.19.1.1/32 (overlay)
//	B: veth0 198.18.0.2/24, 2001:db8::2/64; lo 198.19.2.1/32 (overlay)
type Pair struct {
	Lab            *lab.Lab
	A, B           string // namespace names
	AddrA, AddrB   netip.Addr
	AddrA6, AddrB6 netip.Addr
	InnerA, InnerB netip.Addr
}

// pairSpec is the lab topology of a Pair.
const pairSpec = `
description: two strongSwan peers on one link
nodes:
  a:
    lo: [198.19.1.1/32]
  b:
    lo: [198.19.2.1/32]
links:
  - a: {node: a, iface: veth0, addr: [198.18.0.1/24, 2001:db8::1/64]}
    b: {node: b, iface: veth0, addr: [198.18.0.2/24, 2001:db8::2/64]}
`

// NewPair brings the Pair up with lab/labtest (namespace names unique to
// this process and call) and removes it in t.Cleanup, which also ends
// anything left running inside.
func NewPair(t testing.TB) Pair {
	t.Helper()
	l := labtest.Up(t, pairSpec)
	return Pair{
		Lab: l, A: l.Netns("a"), B: l.Netns("b"),
		AddrA: netip.MustParseAddr("198.18.0.1"), AddrB: netip.MustParseAddr("198.18.0.2"),
		AddrA6: netip.MustParseAddr("2001:db8::1"), AddrB6: netip.MustParseAddr("2001:db8::2"),
		InnerA: netip.MustParseAddr("198.19.1.1"), InnerB: netip.MustParseAddr("198.19.2.1"),
	}
}

// Exec runs a command inside namespace ns and returns its combined output.
func Exec(ns string, name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in netns %s: %w: %s", name, ns, err, lastLines(string(out), 5))
	}
	return string(out), nil
}
