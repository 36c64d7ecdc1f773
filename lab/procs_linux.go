package lab

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stopProcesses ends the processes whose network namespace is the named
// one: a daemon or capture left behind would otherwise keep the namespace,
// and its interfaces, alive after the mount is gone. They get SIGTERM, and
// SIGKILL after a grace period. The calling process is never signalled.
func stopProcesses(name string) error {
	var st unix.Stat_t
	if err := unix.Stat(nsPath(name), &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("stat %s: %w", nsPath(name), err)
	}
	pids := pidsInNetns(st.Dev, st.Ino)
	if len(pids) == 0 {
		return nil
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if len(pidsInNetns(st.Dev, st.Ino)) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range pidsInNetns(st.Dev, st.Ino) {
		_ = unix.Kill(pid, syscall.SIGKILL)
	}
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(pidsInNetns(st.Dev, st.Ino)) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("namespace %s: processes %v still running after SIGKILL", name, pidsInNetns(st.Dev, st.Ino))
}

// pidsInNetns lists the processes (by their main thread) in the network
// namespace with the given nsfs device and inode. Zombies no longer have a
// namespace and are not listed.
func pidsInNetns(dev, ino uint64) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/net", &st) != nil {
			continue
		}
		if st.Dev == dev && st.Ino == ino {
			out = append(out, pid)
		}
	}
	return out
}
