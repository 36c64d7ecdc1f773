package ike

import (
	"errors"
	"testing"
	"time"
)

// TestInteropDPDKilledPeer: DPD notices a strongSwan that was killed (no
// Delete, no answer) and removes the IKE SA and its Child SA.
func TestInteropDPDKilledPeer(t *testing.T) {
	sc := interopSuites[0]
	ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP}, sc.ike, sc.esp)
	ie.prof.DPDInterval, ie.prof.DPDRetry, ie.prof.DPDRetries = time.Second, 300*time.Millisecond, 3
	ie.initiate(testCtx(t))
	ie.check(1)
	// Alive: a check goes out and strongSwan answers it.
	waitFor(t, "an answered liveness check", func() bool { return ie.us.e.Stats().Get(CounterDPDChecks) >= 1 })
	time.Sleep(500 * time.Millisecond)
	if establishedCount(t, ie.us) != 1 {
		t.Fatal("SA went down while strongSwan was alive")
	}
	ie.sw.Kill()
	killed := time.Now()
	waitFor(t, "strongSwan declared dead", func() bool { _, ok := downReason(ie.us); return ok })
	if reason, _ := downReason(ie.us); !errors.Is(reason, ErrPeerDead) {
		t.Fatalf("down reason %v", reason)
	}
	if n := len(ie.us.inst.snapshot()); n != 0 {
		t.Fatalf("%d Child SAs left installed", n)
	}
	if n := len(ikeSAs(t, ie.us)); n != 0 {
		t.Fatalf("%d IKE SAs left", n)
	}
	t.Logf("killed strongSwan detected dead after %v (dpd 1s, retry 300ms x3)", time.Since(killed).Round(time.Millisecond))
}
