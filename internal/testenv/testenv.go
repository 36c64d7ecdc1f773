// Package testenv decides what a test may assume about the machine it runs on.
//
// Tests that need root, a network namespace or an external program (strongSwan,
// tshark, iperf3, nft) call the helpers here. On a developer machine a missing
// prerequisite skips the test with a message that says what to install; with
// CI=true in the environment it fails the test instead, so that a CI machine
// that lacks something cannot pass by skipping.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI (CI=true or CI=1), where a missing
// prerequisite is a failure rather than a skip.
func CI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1" || v == "yes"
}

// Missing skips t, or fails it under CI, with a message naming what is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("prerequisite missing under CI=true: %s (run 'make deps' as root)", msg)
	}
	t.Skipf("skipping: %s (run 'make deps' as root, or set CI=true to make this a failure)", msg)
}

// NeedRoot requires euid 0, which network-namespace, XDP and TUN tests need.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "test needs root")
	}
}

// NeedCommands requires each named program to be on PATH or, for an absolute
// path, to exist and be executable.
func NeedCommands(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if strings.HasPrefix(n, "/") {
			if st, err := os.Stat(n); err != nil || st.Mode()&0o111 == 0 {
				Missing(t, "%s is not installed", n)
			}
			continue
		}
		if _, err := exec.LookPath(n); err != nil {
			Missing(t, "%s is not on PATH", n)
		}
	}
}

// Short skips t in -short mode; slow end-to-end tests use it so that
// 'go test -short ./...' stays a quick inner loop. CI never runs -short.
func Short(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping in -short mode")
	}
}
