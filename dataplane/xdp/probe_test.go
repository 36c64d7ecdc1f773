package xdp

import (
	"strings"
	"testing"
)

func TestChooseNames(t *testing.T) {
	if _, _, _, err := Choose("dpdk"); err == nil {
		t.Fatal("unknown backend accepted")
	}
	name, reason, _, err := Choose(NamePortable)
	if err != nil || name != NamePortable || !strings.Contains(reason, "requested") {
		t.Fatalf("portable: %q %q %v", name, reason, err)
	}
	name, reason, f, err := Choose(NameAuto)
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	switch name {
	case NameAFXDP:
		if f.BPF != "" || f.AFXDP != "" {
			t.Fatalf("af_xdp chosen with missing features %+v", f)
		}
	case NamePortable:
		if f.BPF == "" && f.AFXDP == "" {
			t.Fatalf("portable chosen although everything is supported: %q", reason)
		}
		if _, _, _, err := Choose(NameAFXDP); err == nil {
			t.Fatal("af_xdp forced on a host without it did not fail")
		}
	default:
		t.Fatalf("auto chose %q", name)
	}
	if !strings.Contains(reason, "CPU") {
		t.Fatalf("reason %q does not describe the CPU", reason)
	}
	t.Logf("auto: %s: %s", name, reason)
}
