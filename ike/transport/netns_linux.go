package transport

import (
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// InNetNS runs f on a dedicated OS thread switched into the network
// namespace ns (a name under /run/netns or a path) and waits for it.
// Sockets f opens stay in ns; the caller's thread never changes namespace.
// If the thread cannot switch back it is retired rather than reused.
func InNetNS(ns string, f func() error) error {
	path := ns
	if !strings.Contains(ns, "/") {
		path = "/run/netns/" + ns
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(target)
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current netns: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread is discarded when this goroutine ends.
			errc <- fmt.Errorf("leave netns %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
