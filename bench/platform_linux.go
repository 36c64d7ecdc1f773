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
		{ScenarioESP, "two workers", func(_ context.Context, o *Options) ([]Result, error) {
			var out []Result
			for _, p := range []string{PathXDPEncrypt, PathXDPDecrypt, PathPortableEnc, PathPortableDec} {
				out = append(out, Result{Scenario: ScenarioESP, Path: p, Workers: 2, Skipped: twoWorkersReason})
			}
			return out, nil
		}},
		{ScenarioESP, "hub hairpin", func(_ context.Context, o *Options) ([]Result, error) {
			return []Result{{Scenario: ScenarioESP, Path: "af_xdp hairpin (spoke→hub→spoke)", Workers: 1, Skipped: "needs the hub's two-tunnel setup; planned after the AF_XDP backend lands on main"}}, nil
		}},
		{ScenarioTCP, "iperf3 through esphub", portableTCP},
		{ScenarioSwan, "strongswan kernel-libipsec", strongSwanTCP},
		{ScenarioIKE, "ike handshakes", ikeHandshakes},
		{ScenarioIKE, "memory per session", ikeMemory},
	}
}

// twoWorkersReason says why the two-worker rows are not measured yet.
const twoWorkersReason = "needs two veth queues fed by two generator sockets (veth picks the receive queue from the sender's transmit queue) and the backend's multi-queue worker setup; not built yet"
