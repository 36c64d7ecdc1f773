package nhrp

import "time"

// Clock is the time source of a Node. The daemon passes SystemClock; tests
// pass a fake that fires timers when the test advances it.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once, on its own goroutine or the caller's loop,
	// after d. The Node locks itself in f, so f may run on any goroutine.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it
	// did so.
	Stop() bool
}

// SystemClock is the Clock of the real world.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
