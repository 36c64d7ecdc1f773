package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/esphub/esphub/control/api"
)

// defaultSocket is where esphubd listens unless -api says otherwise.
const defaultSocket = "/run/esphub/esphubd.sock"

// daemonCommands are the commands that run inside esphubd: the words are
// sent as typed (IOS abbreviations allowed, e.g. `sh cry ikev2 sa det`) and
// the daemon's command tree answers.
func daemonCommands() []*command {
	mk := func(name, summary, usage string) *command {
		return &command{name: name, summary: summary, usage: usage, run: func(e *env, args []string) int {
			return daemonExec(e, append([]string{name}, args...))
		}}
	}
	return []*command{
		mk("show", "show daemon state as IOS does (crypto session, crypto ikev2 sa, ip route, ...)",
			"crypto ikev2 sa [detailed] | crypto ikev2 session [detailed] | crypto session [detail] | crypto ipsec sa [peer X] | crypto ikev2 stats | crypto ikev2 profile | ip route [vrf V] | ipv6 route | interfaces virtual-access [N] | derived-config interface virtual-access N | dataplane  [-s SOCKET]"),
		mk("clear", "clear crypto sessions", "crypto session [remote ADDRESS] | crypto ikev2 sa  [-s SOCKET]"),
		mk("reload", "make esphubd re-read its configuration file and apply the difference", "[-s SOCKET]"),
	}
}

// daemonExec sends words to the daemon and prints its answer. The socket is
// -s/--socket PATH, else $ESPHUB_SOCKET, else the default.
func daemonExec(e *env, words []string) int {
	sock := os.Getenv("ESPHUB_SOCKET")
	if sock == "" {
		sock = defaultSocket
	}
	var cmd []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-s" || w == "--socket" || w == "-socket":
			if i+1 >= len(words) {
				fmt.Fprintf(e.stderr, "esphubctl: %s needs a path\n", w)
				return exitUsage
			}
			sock = words[i+1]
			i++
		case strings.HasPrefix(w, "--socket=") || strings.HasPrefix(w, "-s="):
			sock = w[strings.IndexByte(w, '=')+1:]
		default:
			cmd = append(cmd, w)
		}
	}
	if len(cmd) == 1 && cmd[0] == "show" || len(cmd) == 1 && cmd[0] == "clear" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		list, err := api.NewClient(sock).Commands(ctx)
		if err != nil {
			fmt.Fprintf(e.stderr, "esphubctl: %v\n", err)
			return exitError
		}
		fmt.Fprint(e.stdout, list)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := api.NewClient(sock).Exec(ctx, cmd, e.output)
	if err != nil {
		fmt.Fprintf(e.stderr, "esphubctl: %v\n", err)
		if strings.Contains(err.Error(), "usage") || strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "incomplete") {
			return exitUsage
		}
		return exitError
	}
	fmt.Fprint(e.stdout, out)
	if out != "" && !strings.HasSuffix(out, "\n") {
		fmt.Fprintln(e.stdout)
	}
	return exitOK
}
