package afxdp

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/bpf"
)

// helperEnv makes the test binary act as a dataplane process that attaches
// the WAN program and an AF_XDP socket, says "ready", and waits to be killed.
const helperEnv = "ESPHUB_AFXDP_TEST_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		if err := runHelper(spec); err != nil {
			fmt.Println("helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper takes "netns:ifindex".
func runHelper(spec string) error {
	ns, idx, ok := strings.Cut(spec, ":")
	ifindex, err := strconv.Atoi(idx)
	if !ok || err != nil {
		return fmt.Errorf("bad spec %q", spec)
	}
	runtime.LockOSThread() // never unlocked: the process dies in ns
	fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return err
	}
	st, err := bpf.Load(bpf.Options{})
	if err != nil {
		return err
	}
	if _, err := st.AttachWAN(ifindex, bpf.AttachDriver); err != nil {
		return err
	}
	u, err := NewUMEM(UMEMConfig{})
	if err != nil {
		return err
	}
	s, err := u.Open(SocketConfig{Ifindex: ifindex})
	if err != nil {
		return err
	}
	if err := st.RegisterSocket(ifindex, 0, s.FD()); err != nil {
		return err
	}
	s.Refill()
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return nil
}

// TestSIGKILLLeavesNoXDP kills a process that has the WAN program attached
// and an AF_XDP socket bound, and checks that nothing stays attached: the
// attachment is a bpf_link owned by the process's descriptors.
func TestSIGKILLLeavesNoXDP(t *testing.T) {
	_, b := vethPair(t, "ka", "kb", 45)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", helperEnv, b.ns, b.ifindex))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l := <-line:
		if l != "ready" {
			t.Fatalf("helper said %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("helper did not get ready")
	}
	if !xdpAttached(t, b) {
		t.Fatal("helper is ready but ip link shows no XDP program")
	}
	if err := cmd.Process.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for xdpAttached(t, b) {
		if time.Now().After(deadline) {
			t.Fatalf("XDP program still attached after SIGKILL:\n%s", ipCmd(t, "-n", b.ns, "-d", "link", "show", "dev", b.name))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
