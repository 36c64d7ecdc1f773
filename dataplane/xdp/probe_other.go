//go:build !linux

package xdp

func probeKernel() (bpfWhy, afxdpWhy string) {
	return "XDP needs Linux", "AF_XDP needs Linux"
}
