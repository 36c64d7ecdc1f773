package s2s

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseESPLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		want ESPPacket
	}{
		{"1700000000.250000 IP 198.18.1.2.4500 > 198.18.100.2.4500: UDP-encap: ESP(spi=0x0a0b0c0d,seq=0x1), length 1084", true,
			ESPPacket{At: 1700000000.25, Src: netip.MustParseAddr("198.18.1.2"), Dst: netip.MustParseAddr("198.18.100.2"), Length: 1084}},
		{"1700000000.500000 IP 198.18.1.2 > 198.18.0.2: ESP(spi=0x01020304,seq=0x2), length 1076", true,
			ESPPacket{At: 1700000000.5, Src: netip.MustParseAddr("198.18.1.2"), Dst: netip.MustParseAddr("198.18.0.2"), Length: 1076}},
		{"1700000000.500000 IP 198.18.1.2.500 > 198.18.0.2.500: isakmp: child_sa  ikev2_auth[I]", false, ESPPacket{}},
		{"1700000000.500000 IP6 2001:db8::1 > 2001:db8::2: ESP(spi=0x1,seq=0x2), length 10", false, ESPPacket{}},
		{"garbage ESP(", false, ESPPacket{}},
		{"", false, ESPPacket{}},
	} {
		got, ok := ParseESPLine(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseESPLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSwitchFrom(t *testing.T) {
	self, hub, peer := netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.100.2")
	pkts := []ESPPacket{
		{At: 10.000, Src: self, Dst: hub, Length: 120},   // control: too short
		{At: 10.100, Src: hub, Dst: self, Length: 1100},  // not ours
		{At: 10.200, Src: self, Dst: hub, Length: 1100},  // first echo
		{At: 10.210, Src: self, Dst: hub, Length: 1100},  // second
		{At: 10.215, Src: self, Dst: peer, Length: 200},  // IKE-sized, not an echo
		{At: 10.250, Src: self, Dst: peer, Length: 1100}, // first direct
		{At: 10.260, Src: self, Dst: hub, Length: 1100},  // late, not counted
	}
	r, ok := SwitchFrom(pkts, self, hub, 1000)
	if !ok || r.ViaHub != 2 || r.Switch.Round(time.Millisecond) != 50*time.Millisecond {
		t.Errorf("SwitchFrom = %+v, %v; want 50ms with 2 echoes via the hub", r, ok)
	}
	if _, ok := SwitchFrom(pkts[:5], self, hub, 1000); ok {
		t.Error("SwitchFrom found a switch with no direct echo")
	}
}

func TestResultMedian(t *testing.T) {
	var r Result
	for _, ms := range []int{30, 10, 1000, 20, 40} {
		r.Runs = append(r.Runs, Run{Switch: time.Duration(ms) * time.Millisecond, ViaHub: ms / 10})
	}
	if d, n := r.Median(); d != 30*time.Millisecond || n != 3 {
		t.Errorf("odd median = %v, %d; want 30ms, 3", d, n)
	}
	r.Runs = r.Runs[:4]
	if d, n := r.Median(); d != 25*time.Millisecond || n != 2 {
		t.Errorf("even median = %v, %d; want 25ms, 2", d, n)
	}
	if d, n := r.Max(); d != time.Second || n != 100 {
		t.Errorf("max = %v, %d", d, n)
	}
	if d, n := (Result{}).Median(); d != 0 || n != 0 {
		t.Errorf("empty median = %v, %d", d, n)
	}
}

func TestESPPacketsFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.txt")
	data := "1.5 IP 198.18.1.2 > 198.18.0.2: ESP(spi=0x1,seq=0x1), length 1076\nnoise\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ESPPackets(p)
	if err != nil || len(got) != 1 || got[0].Length != 1076 {
		t.Fatalf("ESPPackets = %+v, %v", got, err)
	}
	if _, err := ESPPackets(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestOptionsRequired(t *testing.T) {
	if _, err := Start(t.Context(), Options{}); err == nil {
		t.Error("Start without Root and Esphubd did not fail")
	}
}
