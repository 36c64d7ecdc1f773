package afxdp

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// PinThread locks the calling goroutine to its OS thread and restricts that
// thread to one CPU, as a run-to-completion worker serving one queue wants.
// The returned function restores the thread's previous CPU set and unlocks
// it; call it (typically deferred) from the same goroutine.
func PinThread(cpu int) (restore func(), err error) {
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("pin to cpu %d: get affinity: %w", cpu, err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("pin to cpu %d: %w", cpu, err)
	}
	return func() {
		if err := unix.SchedSetaffinity(0, &old); err != nil {
			// Leave the thread locked: it dies with the goroutine
			// instead of running other goroutines on one CPU.
			return
		}
		runtime.UnlockOSThread()
	}, nil
}
