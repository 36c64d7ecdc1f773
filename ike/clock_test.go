package ike

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
)

// manualClock is a Clock that moves only when the test advances it.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock by d and runs the timers that fall due, in order.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*manualTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t)
		} else if !t.stopped {
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// TestRetransmissionBackoff checks the exact retransmission schedule with
// the defaults (2 s, x1.8, 5 retransmissions) on a clock the test drives,
// and that the SA dies with ErrTimeout after the last one.
func TestRetransmissionBackoff(t *testing.T) {
	clk := &manualClock{now: time.Unix(1_000_000, 0)}
	ct := newCapture()
	e, err := New(Config{Transport: ct, Policy: &testPolicy{}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = e.Run(ctx) }()
	res := make(chan error, 1)
	go func() {
		_, err := e.Initiate(ctx, InitiateRequest{Local: netip.AddrPortFrom(addrA, 500), Remote: netip.AddrPortFrom(addrB, 500),
			Profile: &Profile{IKEProposals: []suite.Proposal{propGCM}, LocalPSK: testPSK, RemotePSK: testPSK}})
		res <- err
	}()
	waitFor(t, "first IKE_SA_INIT", func() bool { return ct.count() == 1 })
	// settle lets the engine goroutine handle what a timer posted.
	settle := func() { _ = e.call(ctx, func() {}) }
	wait := 2 * time.Second
	for i := 1; i <= 5; i++ {
		clk.Advance(wait - time.Millisecond)
		settle()
		if ct.count() != i {
			t.Fatalf("retransmission %d came %v early", i, time.Millisecond)
		}
		clk.Advance(time.Millisecond)
		settle()
		waitFor(t, "retransmission", func() bool { return ct.count() == i+1 })
		wait = time.Duration(float64(wait) * 1.8)
	}
	clk.Advance(wait)
	select {
	case err := <-res:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no timeout after the last retransmission")
	}
	if ct.count() != 6 {
		t.Fatalf("%d datagrams, want 6", ct.count())
	}
	if got := e.Stats().Get(CounterRetransmits); got != 5 {
		t.Fatalf("retransmits %d", got)
	}
	// Every retransmission is the same datagram.
	for _, p := range ct.sent[1:] {
		if string(p.Data) != string(ct.sent[0].Data) {
			t.Fatal("retransmission differs from the original")
		}
	}
}
