package lab

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
)

var errCrash = errors.New("simulated crash")

// TestDownAfterHalfFinishedUp stops Up in the middle, as a crash would, with
// a process still running in one node and a namespace file that was created
// but never mounted, and checks that DownPrefix removes all of it.
func TestDownAfterHalfFinishedUp(t *testing.T) {
	testenv.Short(t)
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "nft", "sleep")
	t.Parallel()
	prefix := "h" + strconv.FormatInt(int64(os.Getpid()), 36) + "x"
	t.Cleanup(func() { _ = DownPrefix(prefix) })
	spec, err := Parse("half", []byte(`nodes: {a: {}, b: {}, c: {}}
links:
  - {a: {node: a, addr: 198.18.0.1/24}, b: {node: b, addr: 198.18.0.2/24}}
  - {a: {node: b, addr: 198.18.1.1/24}, b: {node: c, addr: 198.18.1.2/24}, loss: 10}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Up(context.Background(), spec, Options{Prefix: prefix, stepHook: func(step string) error {
		if step == "link 2" {
			return errCrash
		}
		return nil
	}})
	if !errors.Is(err, errCrash) {
		t.Fatalf("Up = %v, want the simulated crash", err)
	}
	names, err := Namespaces(prefix)
	if err != nil || len(names) != 3 {
		t.Fatalf("after the crash: namespaces %v, %v; want 3", names, err)
	}
	l, err := Attach(spec, Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	// Link 1 exists, so the crash left real interfaces behind.
	if out, err := l.Exec(context.Background(), "a", "ip", "-br", "addr", "show", "dev", "b"); err != nil {
		t.Fatalf("link 1 missing after the crash: %v %s", err, out)
	}
	cmd := l.Command(context.Background(), "b", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ghost := nsPath(prefix + "-ghost")
	if err := os.WriteFile(ghost, nil, 0o444); err != nil {
		t.Fatal(err)
	}

	if err := DownPrefix(prefix); err != nil {
		t.Fatalf("DownPrefix: %v", err)
	}
	if names, _ := Namespaces(prefix); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Errorf("the process inside the half-built lab survived")
	}
	// A fresh Up with the same prefix works again.
	l2, err := Up(context.Background(), spec, Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("Up after cleanup: %v", err)
	}
	if err := l2.Down(); err != nil {
		t.Fatal(err)
	}
}

// TestUpFailureCleansUp makes a real step fail (nft rejects the ruleset) and
// checks that Up removes what it had created.
func TestUpFailureCleansUp(t *testing.T) {
	testenv.Short(t)
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "nft")
	t.Parallel()
	prefix := "f" + strconv.FormatInt(int64(os.Getpid()), 36) + "x"
	t.Cleanup(func() { _ = DownPrefix(prefix) })
	spec, err := Parse("fail", []byte(`nodes: {a: {sysctl: {net.ipv4.no_such_sysctl: 1}}, b: {}}
links:
  - {a: {node: a, addr: 198.18.0.1/24}, b: {node: b, addr: 198.18.0.2/24}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Up(context.Background(), spec, Options{Prefix: prefix})
	if err == nil {
		t.Fatal("Up with a bad sysctl succeeded")
	}
	if names, _ := Namespaces(prefix); len(names) != 0 {
		t.Errorf("failed Up left %v behind: %v", names, err)
	}
}
