package main

import (
	"errors"
	"testing"
	"time"
)

// A failing interface set is retried after 1 s, then 2 s, 4 s ... at most
// a minute apart; another set, or a success, is tried at once.
func TestRetryGate(t *testing.T) {
	var g retryGate
	t0 := time.Unix(1000, 0)
	fail := errors.New("attach failed")
	if w := g.wait("a", t0); w != 0 {
		t.Fatalf("first attempt waits %v", w)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	now := t0
	for i, w := range want {
		if got := g.done("a", fail, now); got != w {
			t.Fatalf("failure %d: backoff %v, want %v", i+1, got, w)
		}
		if got := g.wait("a", now.Add(w/2)); got != w/2 {
			t.Fatalf("failure %d: halfway, wait %v, want %v", i+1, got, w/2)
		}
		if got := g.wait("b", now.Add(w/2)); got != 0 {
			t.Fatalf("another set waits %v", got)
		}
		now = now.Add(w)
		if got := g.wait("a", now); got != 0 {
			t.Fatalf("failure %d: after the backoff, wait %v", i+1, got)
		}
	}
	g.done("a", nil, now)
	if got := g.done("a", fail, now); got != time.Second {
		t.Fatalf("after a success the backoff restarts: %v", got)
	}
}
