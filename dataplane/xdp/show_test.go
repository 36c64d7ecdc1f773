package xdp

import (
	"strings"
	"testing"
)

func TestStatusWriteText(t *testing.T) {
	s := Status{Backend: NameAFXDP, Reason: "kernel supports XDP",
		Interfaces: []InterfaceStatus{{Name: "wan", Role: "wan", XDPMode: "driver"}, {Name: "lan", Role: "lan", XDPMode: "driver", VRF: 3}},
		Queues:     []QueueStatus{{Queue: 0, CPU: 1, RxWAN: 10, TxLAN: 9, TTLExpired: 1, KernelRxDrop: 2}},
		Verdicts:   map[string]Counter{"esp": {Packets: 10, Bytes: 1000}, "pass-other": {}},
		Drops:      map[string]uint64{"replay": 4},
		Features:   Features{AESNI: true}}
	var b strings.Builder
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Dataplane backend: af_xdp", "Selected because: kernel supports XDP", "AES-NI yes, PCLMULQDQ no",
		"lan        lan   driver    3", "esp", "replay", "ttl-expired", "socket-rx-dropped"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pass-other") || strings.Contains(out, "handoff-full") {
		t.Errorf("zero counters shown:\n%s", out)
	}
	b.Reset()
	if err := (Status{Backend: NamePortable}).WriteText(&b); err != nil || !strings.Contains(b.String(), "(none)") {
		t.Fatalf("empty status: %v\n%s", err, b.String())
	}
}
