package bench

import "context"

// platformSteps are the scenarios that need Linux namespaces.
func platformSteps() []step {
	return []step{
		{ScenarioIO, "af_xdp forward", xdpStep(xdpCase{kind: kindForward, workers: 1})},
		{ScenarioESP, "af_xdp encrypt", xdpStep(xdpCase{kind: kindEncrypt, workers: 1})},
		{ScenarioESP, "af_xdp decrypt", xdpStep(xdpCase{kind: kindDecrypt, workers: 1})},
		{ScenarioESP, "af_xdp hairpin", xdpStep(xdpCase{kind: kindHairpin, workers: 1})},
		{ScenarioESP, "portable encrypt", xdpStep(xdpCase{kind: kindEncrypt, portable: true, workers: 1})},
		{ScenarioESP, "portable decrypt", xdpStep(xdpCase{kind: kindDecrypt, portable: true, workers: 1})},
		{ScenarioESP, "portable hairpin", xdpStep(xdpCase{kind: kindHairpin, portable: true, workers: 1})},
		{ScenarioESP, "af_xdp encrypt, 2 workers", xdpStep(xdpCase{kind: kindEncrypt, workers: 2})},
		{ScenarioESP, "af_xdp decrypt, 2 workers", xdpStep(xdpCase{kind: kindDecrypt, workers: 2})},
		{ScenarioESP, "portable encrypt, 2 workers", xdpStep(xdpCase{kind: kindEncrypt, portable: true, workers: 2})},
		{ScenarioESP, "portable decrypt, 2 workers", xdpStep(xdpCase{kind: kindDecrypt, portable: true, workers: 2})},
		{ScenarioESP, "af_xdp hairpin, 2 workers", xdpStep(xdpCase{kind: kindHairpin, workers: 2})},
		{ScenarioESP, "portable hairpin, 2 workers", xdpStep(xdpCase{kind: kindHairpin, portable: true, workers: 2})},
		{ScenarioTCP, "iperf3 through esphub af_xdp", xdpTCP},
		{ScenarioTCP, "iperf3 through esphubd af_xdp", daemonTCP},
		{ScenarioTCP, "iperf3 through esphub portable", portableTCP},
		{ScenarioSwan, "strongswan kernel-libipsec", strongSwanTCP},
		{ScenarioIKE, "ike handshakes", ikeHandshakes},
		{ScenarioIKE, "memory per session", ikeMemory},
		{ScenarioShortcut, "time to shortcut", shortcutLatency},
	}
}

// xdpStep is the step of one AF_XDP-topology case.
func xdpStep(c xdpCase) func(context.Context, *Options) ([]Result, error) {
	return func(_ context.Context, o *Options) ([]Result, error) {
		return xdpPath(c, o.runConfig())
	}
}
