package labtest

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/lab"
)

func TestPrefixUniqueAndValid(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		p := Prefix()
		if err := lab.CheckPrefix(p); err != nil {
			t.Fatalf("Prefix() = %q: %v", p, err)
		}
		if seen[p] {
			t.Fatalf("Prefix() repeated %q", p)
		}
		seen[p] = true
	}
}

func TestTopologyPaths(t *testing.T) {
	for _, name := range []string{"hub-2spokes", "hub-3spokes-nat"} {
		if _, err := os.Stat(Topology(name)); err != nil {
			t.Errorf("Topology(%q): %v", name, err)
		}
	}
}

func TestUpInlineCleansUp(t *testing.T) {
	var prefix string
	t.Run("up", func(t *testing.T) {
		l := Up(t, `nodes: {a: {}, b: {}}
links: [{a: {node: a, addr: 198.18.0.1/24}, b: {node: b, addr: 198.18.0.2/24}}]`)
		prefix = l.Prefix()
		if names, _ := lab.Namespaces(prefix); len(names) != 2 {
			t.Fatalf("namespaces %v", names)
		}
		out, err := l.Exec(context.Background(), "a", "ping", "-c", "1", "-W", "5", "198.18.0.2")
		if err != nil {
			t.Fatalf("ping: %v\n%s", err, out)
		}
	})
	if prefix == "" {
		return // skipped: no root or -short
	}
	if names, _ := lab.Namespaces(prefix); len(names) != 0 {
		t.Errorf("t.Cleanup left %s behind", strings.Join(names, ", "))
	}
}

func TestCapture(t *testing.T) {
	l := Up(t, `nodes: {a: {}, b: {}}
links: [{a: {node: a, addr: 198.18.0.1/24}, b: {node: b, addr: 198.18.0.2/24}}]`)
	c := StartCapture(t, l, "b", "a", "icmp")
	if out, err := l.Exec(context.Background(), "a", "ping", "-n", "-c", "3", "-i", "0.2", "-W", "5", "198.18.0.2"); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	c.WaitPackets(6, 10*time.Second)
	c.Stop()
	n, err := c.Packets()
	if err != nil {
		t.Fatal(err)
	}
	// Three requests and three replies.
	if n != 6 {
		t.Errorf("captured %d packets, want 6", n)
	}
	c.Stop() // idempotent
}

// pcapBytes builds a little-endian classic pcap with the given payloads.
func pcapBytes(payloads ...[]byte) []byte {
	b := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	for _, p := range payloads {
		n := byte(len(p))
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, n, 0, 0, 0, n, 0, 0, 0)
		b = append(b, p...)
	}
	return b
}

func TestCountPcap(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want int
		ok   bool
	}{
		{"empty capture", pcapBytes(), 0, true},
		{"two packets", pcapBytes([]byte("abc"), make([]byte, 60)), 2, true},
		{"record being written", pcapBytes([]byte("abc"), make([]byte, 60))[:24+16+3+10], 1, true},
		{"not pcap", []byte("this is not a pcap file at all"), 0, false},
		{"short header", []byte{0xd4, 0xc3}, 0, false},
	}
	for _, tc := range tests {
		got, err := countPcap(bytes.NewReader(tc.in))
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("%s: %d, %v; want %d ok=%v", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzCountPcap(f *testing.F) {
	f.Add(pcapBytes([]byte("abc"), make([]byte, 60)))
	f.Add(pcapBytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _ := countPcap(bytes.NewReader(b))
		if n < 0 || n > len(b)/16 {
			t.Fatalf("%d records in %d bytes", n, len(b))
		}
	})
}
