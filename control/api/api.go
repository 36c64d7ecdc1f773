// Package api is the local operator interface between esphubctl and esphubd:
// HTTP with JSON bodies over a unix socket.
//
// The daemon registers IOS-style commands ("show crypto ikev2 sa", "clear
// crypto session", "reload") in a command tree. A client sends the words an
// operator typed; the server matches them against the tree, allowing the
// unique-prefix abbreviations IOS users type ("sh cry ikev2 sa det"), and runs
// the handler with the remaining words. Every handler produces both a
// structured value (for -o json) and IOS-style text.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Request is what a client sends to POST /v1/exec.
type Request struct {
	// Command holds the words the operator typed, e.g. ["show","crypto","session"].
	Command []string `json:"command"`
	// Format is "text" (default) or "json".
	Format string `json:"format,omitempty"`
}

// Response is the server's answer. Exactly one of Text/Data/Error is
// meaningful, by Format and outcome.
type Response struct {
	Text  string          `json:"text,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error string          `json:"error,omitempty"`
}

// Result is what a handler returns: a value for JSON and a text rendering.
type Result struct {
	Data any
	Text string
}

// Handler runs one command. args are the words after the matched command.
type Handler func(ctx context.Context, args []string) (Result, error)

// ErrUsage marks an error in the command's arguments; the server answers 400.
var ErrUsage = errors.New("usage")

type node struct {
	word     string
	children map[string]*node
	handler  Handler
	help     string
}

// Commands is a tree of IOS-style commands. It is built before serving and
// then only read, so it needs no lock.
type Commands struct {
	root node
}

// Handle registers h for the space-separated keyword path, e.g.
// "show crypto ikev2 sa". help is a one-line description for '?'.
func (c *Commands) Handle(path, help string, h Handler) {
	n := &c.root
	for _, w := range strings.Fields(path) {
		if n.children == nil {
			n.children = map[string]*node{}
		}
		ch := n.children[w]
		if ch == nil {
			ch = &node{word: w}
			n.children[w] = ch
		}
		n = ch
	}
	n.handler = h
	n.help = help
}

// Lookup matches words against the tree: each word may be a unique prefix of
// a keyword at its level. It returns the deepest command with a handler and
// the remaining words.
func (c *Commands) Lookup(words []string) (Handler, []string, error) {
	n := &c.root
	var matched []string
	var best Handler
	bestAt := 0
	for i, w := range words {
		next, err := n.child(w)
		if err != nil {
			if best != nil && errors.Is(err, errNoMatch) {
				break
			}
			return nil, nil, fmt.Errorf("%w: %s", err, strings.Join(append(matched, w), " "))
		}
		n = next
		matched = append(matched, n.word)
		if n.handler != nil {
			best, bestAt = n.handler, i+1
		}
	}
	if best == nil {
		if len(words) == 0 {
			return nil, nil, fmt.Errorf("%w: empty command", ErrUsage)
		}
		return nil, nil, fmt.Errorf("%w: incomplete command: %s (next: %s)", ErrUsage, strings.Join(matched, " "), strings.Join(n.keywords(), ", "))
	}
	return best, words[bestAt:], nil
}

var errNoMatch = fmt.Errorf("%w: unknown command", ErrUsage)

func (n *node) child(w string) (*node, error) {
	if ch, ok := n.children[w]; ok {
		return ch, nil
	}
	var cands []*node
	for k, ch := range n.children {
		if strings.HasPrefix(k, w) {
			cands = append(cands, ch)
		}
	}
	switch len(cands) {
	case 0:
		return nil, errNoMatch
	case 1:
		return cands[0], nil
	}
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = c.word
	}
	sort.Strings(names)
	return nil, fmt.Errorf("%w: ambiguous command (%s)", ErrUsage, strings.Join(names, ", "))
}

func (n *node) keywords() []string {
	out := make([]string, 0, len(n.children))
	for k := range n.children {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// List returns every registered command path with its help, sorted.
func (c *Commands) List() [][2]string {
	var out [][2]string
	var walk func(n *node, path []string)
	walk = func(n *node, path []string) {
		if n.handler != nil {
			out = append(out, [2]string{strings.Join(path, " "), n.help})
		}
		for _, k := range n.keywords() {
			walk(n.children[k], append(slices.Clone(path), k))
		}
	}
	walk(&c.root, nil)
	return out
}

// Server serves Commands over HTTP.
type Server struct {
	cmds *Commands
	http *http.Server
}

// NewServer returns a server for cmds.
func NewServer(cmds *Commands) *Server {
	s := &Server{cmds: cmds}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/exec", s.exec)
	mux.HandleFunc("GET /v1/commands", s.list)
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// ListenUnix creates the unix socket at path (replacing a stale one left by a
// dead daemon, but refusing to steal one a live daemon answers on), mode 0600.
func ListenUnix(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("api: %s: another esphubd is already serving this socket", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("api: remove stale socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("api: listen: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("api: chmod socket: %w", err)
	}
	return ln, nil
}

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the server, waiting for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, Response{Error: "bad request: " + err.Error()})
		return
	}
	h, args, err := s.cmds.Lookup(req.Command)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, Response{Error: err.Error()})
		return
	}
	res, err := h(r.Context(), args)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrUsage) {
			code = http.StatusBadRequest
		}
		writeJSON(w, code, Response{Error: err.Error()})
		return
	}
	if req.Format == "json" {
		b, err := json.Marshal(res.Data)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, Response{Error: "encode: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, Response{Data: b})
		return
	}
	writeJSON(w, http.StatusOK, Response{Text: res.Text})
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request) {
	var sb strings.Builder
	for _, c := range s.cmds.List() {
		fmt.Fprintf(&sb, "  %-45s %s\n", c[0], c[1])
	}
	writeJSON(w, http.StatusOK, Response{Text: sb.String()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Client talks to a daemon's socket.
type Client struct {
	http *http.Client
}

// NewClient returns a client for the unix socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Exec runs a command and returns its text (format "text") or indented JSON
// (format "json").
func (c *Client) Exec(ctx context.Context, command []string, format string) (string, error) {
	body, _ := json.Marshal(Request{Command: command, Format: format})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://esphubd/v1/exec", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot reach esphubd (is it running, and is -api the same socket?): %w", err)
	}
	defer resp.Body.Close()
	var out Response
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("bad answer from esphubd: %w", err)
	}
	if out.Error != "" {
		return "", errors.New(out.Error)
	}
	if format == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, out.Data, "", "  "); err != nil {
			return "", fmt.Errorf("bad JSON from esphubd: %w", err)
		}
		buf.WriteByte('\n')
		return buf.String(), nil
	}
	return out.Text, nil
}

// Commands returns the daemon's command list as text.
func (c *Client) Commands(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://esphubd/v1/commands", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot reach esphubd: %w", err)
	}
	defer resp.Body.Close()
	var out Response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Text, nil
}
