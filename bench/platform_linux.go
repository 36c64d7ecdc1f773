package bench

import "context"

// platformSteps are the scenarios that need Linux namespaces.
func platformSteps() []step {
	return []step{
		{ScenarioIO, "af_xdp forward", func(_ context.Context, o *Options) ([]Result, error) {
			return xdpPath(kindForward, false, o.runConfig())
		}},
		{ScenarioESP, "af_xdp encrypt", func(_ context.Context, o *Options) ([]Result, error) {
			return xdpPath(kindEncrypt, false, o.runConfig())
		}},
		{ScenarioESP, "af_xdp decrypt", func(_ context.Context, o *Options) ([]Result, error) {
			return xdpPath(kindDecrypt, false, o.runConfig())
		}},
		{ScenarioESP, "portable encrypt", func(_ context.Context, o *Options) ([]Result, error) {
			return xdpPath(kindEncrypt, true, o.runConfig())
		}},
		{ScenarioESP, "portable decrypt", func(_ context.Context, o *Options) ([]Result, error) {
			return xdpPath(kindDecrypt, true, o.runConfig())
		}},
		{ScenarioTCP, "iperf3 through esphub", portableTCP},
		{ScenarioSwan, "strongswan kernel-libipsec", strongSwanTCP},
		{ScenarioIKE, "ike handshakes", ikeHandshakes},
		{ScenarioIKE, "memory per session", ikeMemory},
	}
}
