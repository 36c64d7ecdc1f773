package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

const hub = "../../config/testdata/hub.cfg"

func TestConfigCheckValid(t *testing.T) {
	code, out, errs := runCLI(t, "config", "check", hub)
	if code != exitOK {
		t.Fatalf("exit %d, stdout %q stderr %q", code, out, errs)
	}
	if !strings.Contains(errs, "ok (0 errors") {
		t.Fatalf("missing summary: %q", errs)
	}
}

func TestConfigCheckBroken(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.cfg")
	src := "crypto ikev2 proposal p\n encryption aes-cbc-128\n integrity sha1\n group 14\n!\nrouter ospf 1\n network 198.18.0.0 0.0.255.255 area 0\n!\ncrypto ikev2 window 500\n"
	if err := os.WriteFile(bad, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "config", "check", hub, bad)
	if code != exitError {
		t.Fatalf("exit %d, want %d", code, exitError)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	re := regexp.MustCompile(`^(.+):(\d+):(\d+): (error|warning): .+$`)
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Errorf("diagnostic not in FILE:LINE:COL form: %q", l)
		}
	}
	want := []string{
		bad + `:6:1: warning: "router ospf" is not implemented by esphub; ignoring it and its sub-commands`,
		bad + ":9:21: error: crypto ikev2 window: window size 500 is out of range 1-200",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
}

func TestConfigCheckJSON(t *testing.T) {
	code, out, _ := runCLI(t, "config", "check", "-o", "json", hub)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var res []checkResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out)
	}
	if len(res) != 1 || !res[0].Valid || res[0].File != hub {
		t.Fatalf("unexpected result %+v", res)
	}
}

func TestConfigCheckMissingFile(t *testing.T) {
	code, _, errs := runCLI(t, "config", "check", "/nonexistent/x.cfg")
	if code != exitError || !strings.Contains(errs, "read configuration") {
		t.Fatalf("exit %d stderr %q", code, errs)
	}
}

func TestConfigShowObject(t *testing.T) {
	code, out, errs := runCLI(t, "config", "show", hub, "crypto", "ikev2", "proposal", "default")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "DH Group   : DH_GROUP_1536_MODP/Group 5 DH_GROUP_1024_MODP/Group 2") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	code, out, _ = runCLI(t, "conf", "sh", hub, "crypto", "ipsec", "profile")
	if code != exitOK || !strings.Contains(out, "IPSEC profile default") || !strings.Contains(out, "IPSEC profile hub") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	code, _, errs = runCLI(t, "config", "show", hub, "crypto", "ikev2", "policy", "nope")
	if code != exitError || !strings.Contains(errs, `"nope" is not configured`) {
		t.Fatalf("exit %d stderr %q", code, errs)
	}
	code, out, _ = runCLI(t, "config", "show", hub, "crypto", "ikev2", "keyring", "spokes-psk", "-o", "json")
	if code != exitOK || strings.Contains(out, "spoke-a-secret") || !strings.Contains(out, `"<hidden>"`) {
		t.Fatalf("exit %d, keyring json must hide keys:\n%s", code, out)
	}
}

func TestConfigShowRunning(t *testing.T) {
	code, out, _ := runCLI(t, "config", "show", hub)
	if code != exitOK || strings.Contains(out, "crypto ikev2 proposal default") {
		t.Fatalf("exit %d; running-config must leave out untouched defaults:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "config", "show", hub, "--defaults")
	if code != exitOK || !strings.Contains(out, "crypto ikev2 proposal default\n encryption aes-cbc-256 aes-cbc-192 aes-cbc-128") {
		t.Fatalf("exit %d; --defaults must include the default proposal:\n%s", code, out)
	}
}

func TestUsage(t *testing.T) {
	if code, _, _ := runCLI(t); code != exitUsage {
		t.Fatalf("no arguments: exit %d", code)
	}
	if code, _, errs := runCLI(t, "frobnicate"); code != exitUsage || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: exit %d %q", code, errs)
	}
	if code, out, _ := runCLI(t, "config", "--help"); code != exitOK || !strings.Contains(out, "check") {
		t.Fatalf("help: exit %d %q", code, out)
	}
	if code, _, _ := runCLI(t, "-o", "yaml", "config", "check", hub); code != exitUsage {
		t.Fatalf("bad output format: exit %d", code)
	}
}

func TestConfigDiff(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(hub)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), " dpd 10 3 periodic\n", " dpd 20 3 periodic\n", 1)
	newf := filepath.Join(dir, "new.cfg")
	if err := os.WriteFile(newf, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "config", "diff", hub, newf)
	if code != exitOK || out != "modified crypto ikev2 profile spokes-cert\n" {
		t.Fatalf("exit %d output %q", code, out)
	}
	code, out, _ = runCLI(t, "-o", "json", "config", "diff", hub, hub)
	if code != exitOK || strings.TrimSpace(out) != "[]" {
		t.Fatalf("exit %d output %q", code, out)
	}
}
