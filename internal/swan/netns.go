package swan

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/esphub/esphub/internal/testenv"
)

// Pair is two network namespaces joined by a veth pair (veth0 on each
// side), the smallest topology for a strongSwan interop test. Until the
// lab package provides topologies, tests build this one.
//
//	A: veth0 198.18.0.1/24, 2001:db8::1/64; lo 198.19.1.1/32 (overlay)
//	B: veth0 198.18.0.2/24, 2001:db8::2/64; lo 198.19.2.1/32 (overlay)
type Pair struct {
	A, B           string // namespace names
	AddrA, AddrB   netip.Addr
	AddrA6, AddrB6 netip.Addr
	InnerA, InnerB netip.Addr
}

var pairSeq atomic.Int32

// NewPair creates a Pair with names unique to this process and test, and
// deletes it in t.Cleanup (which also ends anything left inside).
func NewPair(t testing.TB) Pair {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip")
	tag := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, t.Name())
	if len(tag) > 16 {
		tag = tag[len(tag)-16:]
	}
	base := fmt.Sprintf("sw%s-%d-%d", tag, os.Getpid(), pairSeq.Add(1))
	p := Pair{
		A: base + "a", B: base + "b",
		AddrA: netip.MustParseAddr("198.18.0.1"), AddrB: netip.MustParseAddr("198.18.0.2"),
		AddrA6: netip.MustParseAddr("2001:db8::1"), AddrB6: netip.MustParseAddr("2001:db8::2"),
		InnerA: netip.MustParseAddr("198.19.1.1"), InnerB: netip.MustParseAddr("198.19.2.1"),
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{p.A, p.B} {
		run("netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", p.A, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", p.B)
	for _, side := range []struct {
		ns            string
		v4, v6, inner netip.Addr
	}{{p.A, p.AddrA, p.AddrA6, p.InnerA}, {p.B, p.AddrB, p.AddrB6, p.InnerB}} {
		run("-n", side.ns, "addr", "add", side.v4.String()+"/24", "dev", "veth0")
		run("-n", side.ns, "addr", "add", side.v6.String()+"/64", "dev", "veth0", "nodad")
		run("-n", side.ns, "addr", "add", side.inner.String()+"/32", "dev", "lo")
		run("-n", side.ns, "link", "set", "veth0", "up")
	}
	return p
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
