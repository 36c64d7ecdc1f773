package xdp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// SetInterfaces while running: a LAN added later is attached and carries
// traffic, the same set again changes nothing, a LAN taken away is
// detached (no program left on it, gone from Status), and a set naming an
// interface that does not exist is refused for that interface only.
func TestLabSetInterfaces(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "ethtool")
	l := labtest.Up(t, twoSites)
	noChecksumOffload(t, l)
	s1, s2 := sites()
	var b *Backend
	must(t, l.Do("s1", func() error {
		var err error
		b, err = New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: "wan", Debug: true, NeighbourRefresh: 200 * time.Millisecond})
		return err
	}))
	s1.xdp = b
	s1.program(t, b, dataplane.ModeGRE, false, false)
	runBackend(t, "s1", b)
	s2.startXDP(t, l, dataplane.ModeGRE, false, false)
	waitRunning(t, b)

	names := func() string {
		var out []string
		for _, i := range b.Status().Interfaces {
			out = append(out, i.Name+"/"+i.Role)
		}
		return strings.Join(out, " ")
	}
	if got := names(); got != "wan/wan" {
		t.Fatalf("before: interfaces %q", got)
	}
	must(t, b.SetInterfaces([]string{"wan"}, []LAN{{Name: "lan"}}))
	if got := names(); got != "wan/wan lan/lan" {
		t.Fatalf("after adding lan: interfaces %q", got)
	}
	b.mu.RLock()
	first := b.attach[1]
	b.mu.RUnlock()
	pingBoth(t, l, func() string { return s1.diag() + "\n" + s2.diag() })
	if q := b.Status().Queues[0]; q.RxLAN == 0 || q.TxLAN == 0 {
		t.Errorf("the added LAN's traffic did not go through the workers: %+v", q)
	}
	must(t, b.SetInterfaces([]string{"wan"}, []LAN{{Name: "lan"}}))
	b.mu.RLock()
	same := b.attach[1] == first
	b.mu.RUnlock()
	if !same {
		t.Error("the same interfaces again re-attached them")
	}

	err := b.SetInterfaces([]string{"wan"}, []LAN{{Name: "lan"}, {Name: "nosuch0"}})
	t.Logf("missing interface: %v", err)
	if err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("a missing interface: err %v", err)
	}
	if got := names(); got != "wan/wan lan/lan" {
		t.Errorf("after a missing interface: interfaces %q, want the others served", got)
	}
	pingBoth(t, l, func() string { return s1.diag() + "\n" + s2.diag() })

	must(t, b.SetInterfaces([]string{"wan"}, nil))
	if got := names(); got != "wan/wan" {
		t.Errorf("after removing lan: interfaces %q", got)
	}
	actx, acancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer acancel()
	out, err := l.Exec(actx, "s1", "ip", "-d", "link", "show", "lan")
	if err != nil || strings.Contains(string(out), "xdp") {
		t.Errorf("lan after removal: %v\n%s", err, out)
	}
}

// waitRunning waits until Run has started.
func waitRunning(t testing.TB, b *Backend) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !b.running.Load() {
		if time.Now().After(deadline) {
			t.Fatal("backend did not start running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
