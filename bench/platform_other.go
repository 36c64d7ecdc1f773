//go:build !linux

package bench

// platformSteps is empty off Linux: the lab scenarios need network
// namespaces, AF_XDP and strongSwan.
func platformSteps() []step { return nil }
