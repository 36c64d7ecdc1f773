package xdp

import (
	"fmt"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Backend names, as `esphubd -backend` takes them and Status reports them.
const (
	NameAuto     = "auto"
	NameAFXDP    = "af_xdp"
	NamePortable = "portable"
)

// Features are what the host offers the dataplane: CPU instructions that
// make AES-GCM fast, and whether the kernel lets this process load the
// steering programs and open AF_XDP sockets ("" when it does, otherwise
// why not).
type Features struct {
	AESNI     bool   `json:"aes_ni"`
	PCLMULQDQ bool   `json:"pclmulqdq"`
	AVX2      bool   `json:"avx2"`
	VAES      bool   `json:"vaes"`
	BPF       string `json:"bpf_unavailable,omitempty"`
	AFXDP     string `json:"af_xdp_unavailable,omitempty"`
}

// ProbeFeatures reports the CPU features; it does not touch the kernel
// (see Choose for that).
func ProbeFeatures() Features {
	return Features{
		AESNI:     cpuid.CPU.Supports(cpuid.AESNI),
		PCLMULQDQ: cpuid.CPU.Supports(cpuid.CLMUL),
		AVX2:      cpuid.CPU.Supports(cpuid.AVX2),
		VAES:      cpuid.CPU.Supports(cpuid.VAES),
	}
}

// FastGCM reports whether AES-GCM runs in hardware (AES-NI and carry-less
// multiplication); without them Go's AES-GCM is several times slower and
// crypto, not I/O, bounds the dataplane.
func (f Features) FastGCM() bool { return f.AESNI && f.PCLMULQDQ }

func (f Features) cpuSummary() string {
	var have []string
	for _, x := range []struct {
		ok   bool
		name string
	}{{f.AESNI, "AES-NI"}, {f.PCLMULQDQ, "PCLMULQDQ"}, {f.AVX2, "AVX2"}, {f.VAES, "VAES"}} {
		if x.ok {
			have = append(have, x.name)
		}
	}
	if len(have) == 0 {
		return "CPU has none of AES-NI, PCLMULQDQ, AVX2, VAES (software AES-GCM)"
	}
	s := "CPU has " + strings.Join(have, ", ")
	if !f.FastGCM() {
		s += " (no hardware AES-GCM: crypto will bound the rate)"
	}
	return s
}

// Choose picks the backend for `esphubd -backend requested` (auto, af_xdp
// or portable) and returns its name, a one-line reason for the log, and the
// features it saw. Asking for af_xdp on a host that cannot run it is an
// error that says what is missing; auto falls back to portable instead.
// Choose must run with the privileges and in the network namespace the
// daemon will use.
func Choose(requested string) (name, reason string, f Features, err error) {
	f = ProbeFeatures()
	switch requested {
	case "", NameAuto, NameAFXDP, "xdp", NamePortable:
	default:
		return "", "", f, fmt.Errorf("backend %q: want auto, af_xdp or portable", requested)
	}
	if requested == NamePortable {
		return NamePortable, "portable backend requested; " + f.cpuSummary(), f, nil
	}
	f.BPF, f.AFXDP = probeKernel()
	if f.BPF == "" && f.AFXDP == "" {
		return NameAFXDP, "kernel supports XDP steering and AF_XDP sockets; " + f.cpuSummary(), f, nil
	}
	var missing []string
	if f.BPF != "" {
		missing = append(missing, "XDP steering: "+f.BPF)
	}
	if f.AFXDP != "" {
		missing = append(missing, "AF_XDP: "+f.AFXDP)
	}
	why := strings.Join(missing, "; ")
	if requested == NameAFXDP || requested == "xdp" {
		return "", why, f, fmt.Errorf("backend af_xdp unavailable (%s); run as root with CAP_BPF and CAP_NET_ADMIN, or use -backend portable", why)
	}
	return NamePortable, "AF_XDP unavailable (" + why + "), using the portable backend; " + f.cpuSummary(), f, nil
}
