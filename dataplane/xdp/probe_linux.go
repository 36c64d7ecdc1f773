package xdp

import (
	"github.com/esphub/esphub/bpf"
	"github.com/esphub/esphub/dataplane/afxdp"
)

// probeKernel runs the bpf and afxdp probes; empty strings mean supported.
func probeKernel() (bpfWhy, afxdpWhy string) {
	if err := bpf.Probe(); err != nil {
		bpfWhy = err.Error()
	}
	if err := afxdp.Probe(); err != nil {
		afxdpWhy = err.Error()
	}
	return bpfWhy, afxdpWhy
}
