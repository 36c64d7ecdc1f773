package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// TestMain lets the exec test run this binary as esphub-lab itself: exec
// replaces the process, which a test cannot do in its own.
func TestMain(m *testing.M) {
	if os.Getenv("ESPHUB_LAB_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

var topo = filepath.Join("..", "..", "lab", "topologies", "hub-3spokes-nat.yaml")

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"up", "--help"}} {
		code, out, _ := runCLI(args...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "-prefix") {
			t.Errorf("%v: code %d, stdout:\n%s", args, code, out)
		}
	}
	code, out, errOut := runCLI()
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no arguments: code %d, stderr %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"up"}, 2, "want exactly one SPEC"},
		{[]string{"down"}, 2, "want SPEC or --prefix P"},
		{[]string{"down", "--prefix", "Bad-Prefix"}, 1, "lab prefix"},
		{[]string{"status", "-o", "yaml", topo}, 2, "-o must be text or json"},
		{[]string{"exec", topo, "host2"}, 2, "want SPEC NODE CMD"},
		{[]string{"exec", topo, "nosuch", "true"}, 1, `no node "nosuch"`},
		{[]string{"check", "/nonexistent/spec.yaml"}, 1, "no such file"},
		{[]string{"list", "extra"}, 2, "list takes no arguments"},
	}
	for _, tc := range tests {
		code, _, errOut := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: code %d stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	code, out, errOut := runCLI("check", topo)
	if code != 0 || !strings.Contains(out, "ok, 10 nodes, 9 links") {
		t.Errorf("check %s: code %d, %q %q", topo, code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("nodes:\n  a: {}\nlinks:\n  - {a: {node: a}, b: {node: ghost}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI("check", bad)
	if code != 1 || !strings.Contains(errOut, bad+":4: ") || !strings.Contains(errOut, `node "ghost" does not exist`) {
		t.Errorf("check of a bad spec: code %d, stderr %q", code, errOut)
	}
}

// TestLifecycle is the acceptance flow: up, exec a ping from the host behind
// a NATed spoke to the hub's host, status, down, and nothing left.
func TestLifecycle(t *testing.T) {
	testenv.Short(t)
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "nft", "ping")
	prefix := labtest.Prefix()
	t.Cleanup(func() { _ = lab.DownPrefix(prefix) })

	code, out, errOut := runCLI("up", "--prefix", prefix, topo)
	if code != 0 || !strings.Contains(out, "lab "+prefix+" up: 10 nodes, 9 links") {
		t.Fatalf("up: code %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI("--prefix", prefix, "up", topo)
	if code != 1 || !strings.Contains(errOut, "already exist") {
		t.Errorf("second up: code %d, %q", code, errOut)
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "exec", "--prefix", prefix, topo, "host2", "ping", "-n", "-c", "3", "-i", "0.2", "-W", "5", "198.19.0.10")
	cmd.Env = append(os.Environ(), "ESPHUB_LAB_TEST_MAIN=1")
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "3 received") {
		t.Errorf("exec ping: %v\n%s", err, b)
	}
	// exec passes the command's exit status through.
	cmd = exec.Command(exe, "exec", "--prefix", prefix, topo, "hubhost", "sh", "-c", "exit 7")
	cmd.Env = append(os.Environ(), "ESPHUB_LAB_TEST_MAIN=1")
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 7 {
		t.Errorf("exec exit 7: %v", err)
	}

	code, out, errOut = runCLI("status", "--prefix", prefix, "-o", "json", topo)
	if code != 0 {
		t.Fatalf("status: code %d %s", code, errOut)
	}
	var st lab.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	if !st.Up() || len(st.Nodes) != 10 {
		t.Errorf("status: %+v", st)
	}
	code, out, _ = runCLI("status", "--prefix", prefix, topo)
	if code != 0 || !strings.Contains(out, "up, 10 of 10 nodes") || !strings.Contains(out, "masquerade") {
		t.Errorf("status text: code %d\n%s", code, out)
	}

	code, out, _ = runCLI("list")
	if code != 0 || !strings.Contains(out, prefix+"  ") || !strings.Contains(out, "hubhost") {
		t.Errorf("list: code %d\n%s", code, out)
	}
	code, out, errOut = runCLI("down", "--prefix", prefix)
	if code != 0 || !strings.Contains(out, "removed 10 namespaces") {
		t.Errorf("down: code %d %s%s", code, out, errOut)
	}
	if names, _ := lab.Namespaces(prefix); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
	code, out, _ = runCLI("status", "--prefix", prefix, topo)
	if code != 0 || !strings.Contains(out, "down, 0 of 10 nodes") {
		t.Errorf("status after down: code %d\n%s", code, out)
	}
	code, _, errOut = runCLI("exec", "--prefix", prefix, topo, "host2", "true")
	if code != 1 || !strings.Contains(errOut, "is not up") {
		t.Errorf("exec on a lab that is down: code %d %q", code, errOut)
	}
}

// TestDemoScript runs the make demo script with this test binary standing in
// for bin/esphub-lab, under a prefix of its own, and checks that it succeeds
// and leaves nothing behind.
func TestDemoScript(t *testing.T) {
	testenv.Short(t)
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "bash", "ip", "nft", "ping", "tcpdump")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prefix := labtest.Prefix()
	t.Cleanup(func() { _ = lab.DownPrefix(prefix) })
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "demo.sh"))
	cmd.Env = append(os.Environ(), "ESPHUB_LAB_TEST_MAIN=1", "ESPHUB_LAB="+exe, "DEMO_PREFIX="+prefix)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"IP 198.18.100.2 > 198.19.0.10", "(failed as expected)", "The lab works."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if names, _ := lab.Namespaces(prefix); len(names) != 0 {
		t.Errorf("demo left %v behind", names)
	}
}
