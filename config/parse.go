package config

import (
	"fmt"
	"strings"
)

// Parse reads one configuration file. name is used in positions only.
//
// It always returns every diagnostic it found. When any of them is an error
// the returned *Config is nil; otherwise it is the complete, validated model
// with the smart defaults filled in. Parse never panics, whatever src holds.
func Parse(name string, src []byte) (*Config, Diagnostics) {
	return parse(name, src, nil)
}

// parse is Parse that also records in seen every command it applied (the
// fixture-coverage test uses it).
func parse(name string, src []byte, seen map[*cmd]bool) (*Config, Diagnostics) {
	p := &parser{file: name, cfg: newConfig(), seen: seen}
	lines := splitLines(string(src))
	for _, l := range lines {
		if l.indent > 0 && len(l.toks) > 0 {
			p.indented = true
			break
		}
	}
	for i := range lines {
		p.line(&lines[i])
	}
	p.closeAll()
	if !p.diags.HasErrors() {
		p.validate()
	}
	if p.diags.HasErrors() {
		return nil, p.diags
	}
	return p.cfg, p.diags
}

// parser holds the state of one Parse call.
type parser struct {
	file     string
	cfg      *Config
	diags    Diagnostics
	stack    []*frame
	indented bool // the source indents sub-commands (a running-config)
	lineErr  bool // the current line already has an error
	// saved is the stack a left-margin `!` just closed. The seeds print a
	// running-config's indented ` !` flush left (inside router bgp, vrf
	// definition), so a line that is not a global command but belongs to
	// one of those modes reopens it, as IOS (where `!` is a comment) does.
	saved []*frame
	seen  map[*cmd]bool
}

// frame is one open configuration mode.
type frame struct {
	mode   *mode
	obj    any
	pos    Pos
	indent int
	// unimpl names the IOS command of a recognised but unimplemented block;
	// every sub-command line is part of it.
	unimpl string
	close  func() // called when the mode closes
	// replace is set while a built-in default's list has not yet been
	// replaced by the configuration (see the policy `proposal` command).
	replace bool
}

// mode is an IOS configuration mode and its sub-commands.
type mode struct {
	name string // as IOS prompts it, e.g. "config-ikev2-proposal"
	what string // as an operator would say it, e.g. "crypto ikev2 proposal"
	cmds []*cmd
	// flushReopen lets a flush-left sub-command reopen the mode after a
	// left-margin `!`: the seeds print router bgp's address families
	// that way.
	flushReopen bool
}

// cmd is one command of a mode, identified by its leading keywords.
type cmd struct {
	words []string
	// run applies the command. It may return a frame to enter a sub-mode.
	run func(c *ctx) *frame
	// no says whether the `no` form is understood.
	no bool
	// unimpl marks an IOS command esphub recognises and does not implement;
	// block says it opens a mode whose sub-commands are skipped with it.
	unimpl bool
	block  bool
}

func kw(words string, run func(c *ctx) *frame) *cmd {
	return &cmd{words: strings.Fields(words), run: run}
}

func kwNo(words string, run func(c *ctx) *frame) *cmd {
	return &cmd{words: strings.Fields(words), run: run, no: true}
}

// unimpl declares recognised, unimplemented commands (one per entry).
func unimpl(words ...string) []*cmd {
	out := make([]*cmd, 0, len(words))
	for _, w := range words {
		out = append(out, &cmd{words: strings.Fields(w), unimpl: true, no: true})
	}
	return out
}

// unimplBlock declares recognised, unimplemented commands that open a mode.
func unimplBlock(words ...string) []*cmd {
	out := unimpl(words...)
	for _, c := range out {
		c.block = true
	}
	return out
}

// ctx is one command invocation: the line, the keywords matched and the
// arguments after them.
type ctx struct {
	p     *parser
	line  *srcLine
	kw    []token
	args  []token
	neg   bool
	frame *frame // the frame whose mode the command belongs to (nil: global)
	cmd   *cmd
}

func (p *parser) pos(l *srcLine, col int) Pos { return Pos{File: p.file, Line: l.num, Col: col} }

func (p *parser) errorf(pos Pos, format string, args ...any) {
	if p.lineErr {
		return
	}
	p.lineErr = true
	p.diags = append(p.diags, Diagnostic{Pos: pos, Severity: SeverityError, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: pos, Severity: SeverityWarning, Msg: fmt.Sprintf(format, args...)})
}

// matchCmd finds the command of m with the longest keyword prefix of toks.
func matchCmd(m *mode, toks []token) (*cmd, int) {
	var best *cmd
	n := 0
	for _, c := range m.cmds {
		if len(c.words) > len(toks) || len(c.words) <= n {
			continue
		}
		ok := true
		for i, w := range c.words {
			if !strings.EqualFold(toks[i].text, w) || toks[i].quoted {
				ok = false
				break
			}
		}
		if ok {
			best, n = c, len(c.words)
		}
	}
	return best, n
}

func (p *parser) closeTo(n int) {
	for len(p.stack) > n {
		f := p.stack[len(p.stack)-1]
		p.stack = p.stack[:len(p.stack)-1]
		if f.close != nil {
			f.close()
		}
	}
}

func (p *parser) closeAll() { p.closeTo(0) }

func (p *parser) inUnimplBlock() bool {
	return len(p.stack) > 0 && p.stack[len(p.stack)-1].unimpl != ""
}

func (p *parser) line(l *srcLine) {
	p.lineErr = false
	if len(l.toks) == 0 {
		return
	}
	first := l.toks[0].text
	switch {
	case strings.HasPrefix(first, "!") && !l.toks[0].quoted:
		// A bang at the left margin ends every open mode, as in a
		// running-config; an indented one is only a comment.
		if l.indent == 0 {
			if len(p.stack) > 0 {
				p.saved = append([]*frame(nil), p.stack...)
			}
			p.closeAll()
		}
		return
	case strings.EqualFold(first, "end") && len(l.toks) == 1:
		p.closeAll()
		return
	case strings.EqualFold(first, "exit") && len(l.toks) == 1:
		if len(p.stack) > 0 {
			p.closeTo(len(p.stack) - 1)
		}
		return
	}
	toks := l.toks
	neg := false
	if strings.EqualFold(first, "no") && len(toks) > 1 {
		neg, toks = true, toks[1:]
	}
	isDefault := strings.EqualFold(first, "default") && len(toks) > 1

	// Innermost mode first; a line that is not a sub-command of a mode
	// closes it (IOS mode rules).
	for depth := len(p.stack); depth >= 0; depth-- {
		var f *frame
		m := globalMode
		if depth > 0 {
			f = p.stack[depth-1]
			if f.unimpl != "" {
				// Inside a running-config, anything indented under an
				// unimplemented block belongs to it.
				if p.indented && l.indent > f.indent {
					p.closeTo(depth)
					return
				}
				continue
			}
			m = f.mode
		}
		if isDefault && depth == 0 {
			if p.defaultCmd(l) {
				p.closeTo(0)
				return
			}
		}
		c, n := matchCmd(m, toks)
		if c == nil {
			continue
		}
		if depth == 0 && c.unimpl && !c.block && p.inUnimplBlock() {
			// Unimplemented global commands (`version`, `banner`, ...) share
			// names with sub-commands of unimplemented blocks (`router rip`
			// / `version 2`): without indentation to tell them apart, the
			// line stays in the block.
			return
		}
		p.closeTo(depth)
		if depth == 0 {
			p.saved = nil
		}
		p.apply(l, c, toks, n, neg, f)
		return
	}
	// Not a command of any open mode.
	if len(p.stack) == 0 && len(p.saved) > 0 {
		saved := p.saved
		for depth := len(saved); depth > 0; depth-- {
			f := saved[depth-1]
			if f.unimpl != "" {
				p.stack = saved[:depth]
				return
			}
			// An implemented mode reopens only for an indented line: a
			// flush-left sub-command after `!` is an error, as the mode
			// rules say.
			if c, n := matchCmd(f.mode, toks); c != nil && (l.indent > 0 || f.mode.flushReopen) {
				p.stack = saved[:depth]
				p.apply(l, c, toks, n, neg, f)
				return
			}
		}
	}
	if len(p.stack) > 0 {
		top := p.stack[len(p.stack)-1]
		// The seeds mix indented and flush-left sub-commands, so
		// indentation cannot decide; what no mode understands belongs to
		// the open unimplemented block.
		if top.unimpl != "" {
			return // a sub-command of the unimplemented block, covered by its warning
		}
	}
	p.unknown(l, toks, neg)
}

func (p *parser) apply(l *srcLine, c *cmd, toks []token, n int, neg bool, f *frame) {
	pos := p.pos(l, l.toks[0].col)
	what := strings.Join(c.words, " ")
	if p.seen != nil {
		p.seen[c] = true
	}
	if c.unimpl {
		if neg {
			what = "no " + what
		}
		if c.block {
			if len(toks) > n {
				what += " " + toks[n].text
			}
			p.warnf(pos, "%q is not implemented by esphub; ignoring it and its sub-commands", what)
			p.stack = append(p.stack, &frame{unimpl: what, pos: pos, indent: l.indent})
		} else {
			p.warnf(pos, "%q is not implemented by esphub; ignoring it", what)
		}
		return
	}
	if neg && !c.no {
		p.errorf(pos, "the no form of %q is not supported", what)
		return
	}
	cx := &ctx{p: p, line: l, kw: toks[:n], args: toks[n:], neg: neg, frame: f, cmd: c}
	if nf := c.run(cx); nf != nil {
		nf.indent = l.indent
		if nf.pos.IsZero() {
			nf.pos = pos
		}
		p.stack = append(p.stack, nf)
	}
}

// unknown reports a line no open mode understands, naming the mode it
// belongs to when it is a sub-command of another mode.
func (p *parser) unknown(l *srcLine, toks []token, neg bool) {
	pos := p.pos(l, l.toks[0].col)
	text := joinToks(toks)
	if neg {
		text = "no " + text
	}
	var owners []string
	for _, m := range allModes {
		if m == globalMode {
			continue
		}
		if c, _ := matchCmd(m, toks); c != nil && !c.unimpl {
			owners = append(owners, m.what)
		}
	}
	if len(owners) > 0 {
		where := owners[0]
		if len(owners) > 1 {
			where += " (also " + strings.Join(owners[1:], ", ") + ")"
		}
		if len(p.stack) > 0 && p.stack[len(p.stack)-1].mode != nil {
			p.errorf(pos, "%q is not valid in %s mode; it is a sub-command of %s", text, p.stack[len(p.stack)-1].mode.what, where)
		} else {
			p.errorf(pos, "%q is not valid at the top level; it is a sub-command of %s", text, where)
		}
		return
	}
	p.errorf(pos, "unknown command %q", text)
}

func joinToks(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		if t.quoted {
			b.WriteString(`"` + t.text + `"`)
		} else {
			b.WriteString(t.text)
		}
	}
	return b.String()
}

// --- argument helpers used by command handlers ---

func (c *ctx) pos() Pos { return c.p.pos(c.line, c.line.toks[0].col) }

// posAt is the position of argument i, or of the end of the line when the
// argument is missing.
func (c *ctx) posAt(i int) Pos {
	if i < len(c.args) {
		return c.p.pos(c.line, c.args[i].col)
	}
	if len(c.args) > 0 {
		last := c.args[len(c.args)-1]
		return c.p.pos(c.line, last.col+len(last.text))
	}
	last := c.kw[len(c.kw)-1]
	return c.p.pos(c.line, last.col+len(last.text))
}

func (c *ctx) errf(i int, format string, args ...any) *frame {
	c.p.errorf(c.posAt(i), format, args...)
	return nil
}

func (c *ctx) what() string { return strings.Join(c.cmd.words, " ") }

// arg returns argument i's text, reporting an error naming what when missing.
func (c *ctx) arg(i int, what string) (string, bool) {
	if i >= len(c.args) {
		c.errf(i, "%s: missing %s", c.what(), what)
		return "", false
	}
	return c.args[i].text, true
}

// nargs checks that the command has between lo and hi arguments.
func (c *ctx) nargs(lo, hi int, what string) bool {
	if len(c.args) < lo {
		c.errf(len(c.args), "%s: missing %s", c.what(), what)
		return false
	}
	if hi >= 0 && len(c.args) > hi {
		c.errf(hi, "%s: unexpected %q", c.what(), c.args[hi].text)
		return false
	}
	return true
}

func (c *ctx) argIs(i int, word string) bool {
	return i < len(c.args) && strings.EqualFold(c.args[i].text, word) && !c.args[i].quoted
}

func (c *ctx) rest(i int) string {
	if i >= len(c.args) {
		return ""
	}
	return joinToks(c.args[i:])
}

func (c *ctx) warnUnimpl(i int, what string) {
	c.p.warnf(c.posAt(i), "%q is not implemented by esphub; ignoring it", what)
}
