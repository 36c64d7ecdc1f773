package xdp

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// helperEnv makes the test binary act as an esphubd-like process: it runs
// the AF_XDP backend on the wan and lan interfaces of the named network
// namespace, says "ready", and waits to be killed.
const helperEnv = "ESPHUB_XDP_TEST_HELPER"

func TestMain(m *testing.M) {
	if ns := os.Getenv(helperEnv); ns != "" {
		if err := runHelper(ns); err != nil {
			fmt.Println("helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(ns string) error {
	runtime.LockOSThread() // never unlocked: the process lives in ns
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	if err := netns.Set(h); err != nil {
		return err
	}
	b, err := New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: "wan", LANs: []LAN{{Name: "lan"}}})
	if err != nil {
		return err
	}
	go func() { _ = b.Run(context.Background()) }()
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return nil
}

// TestSIGKILLLeavesNoXDP kills a process running the backend and checks
// that no XDP program stays attached to its interfaces: the attachments
// are bpf_links owned by the process's descriptors.
func TestSIGKILLLeavesNoXDP(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip")
	l := labtest.Up(t, twoSites)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	attached := func() string {
		out, err := l.Exec(ctx, "s1", "ip", "-d", "link", "show")
		if err != nil {
			t.Fatalf("ip link: %v", err)
		}
		var with []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "prog/xdp") || strings.Contains(line, " xdp ") || strings.Contains(line, "xdpgeneric") {
				with = append(with, strings.TrimSpace(line))
			}
		}
		return strings.Join(with, "\n")
	}
	if a := attached(); a != "" {
		t.Fatalf("XDP attached before the helper ran:\n%s", a)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+l.Netns("s1"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text()
	}()
	select {
	case s := <-line:
		if s != "ready" {
			t.Fatalf("helper said %q", s)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("helper not ready")
	}
	if a := attached(); !strings.Contains(a, "prog/xdp") {
		t.Fatalf("helper ready but no XDP program attached:\n%s", a)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := attached()
		if a == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("XDP still attached 30 s after SIGKILL:\n%s", a)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
