package afxdp

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPinThread(t *testing.T) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	cpu := runtime.NumCPU() - 1
	done := make(chan struct{})
	go func() {
		defer close(done)
		restore, err := PinThread(cpu)
		if err != nil {
			t.Error(err)
			return
		}
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			t.Error(err)
		}
		if set.Count() != 1 || !set.IsSet(cpu) {
			t.Errorf("pinned thread may run on %d CPUs (cpu %d set: %v)", set.Count(), cpu, set.IsSet(cpu))
		}
		restore()
		runtime.LockOSThread() // look at the same thread again
		defer runtime.UnlockOSThread()
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			t.Error(err)
		}
		if set != orig {
			t.Errorf("restore left %d CPUs, want %d", set.Count(), orig.Count())
		}
	}()
	<-done
	if _, err := PinThread(1 << 20); err == nil {
		t.Error("pinning to a CPU that does not exist succeeded")
	}
}
