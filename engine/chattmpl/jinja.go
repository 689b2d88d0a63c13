package chattmpl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"

	"github.com/maopao/maopao/engine"
)

// Template is a model's own Jinja chat template (the GGUF key
// tokenizer.chat_template), run by the gonja interpreter with the settings
// Hugging Face's transformers and llama.cpp use (trim_blocks,
// lstrip_blocks). It lets a model whose format has no hand-written Family
// get the prompt it was trained on. A Template is safe for concurrent use.
type Template struct {
	tpl *exec.Template
	// Now gives strftime_now its time; nil means time.Now.
	Now func() time.Time
}

// Tokens are the special-token texts a template may write itself.
type Tokens struct {
	BOS, EOS string
}

// ErrUnguardable reports that a template changed a message's text on its
// way into the prompt (trimmed it, cut it, tested it), so where that text
// lies in the result is unknown and control-token text a player typed could
// not be kept as text. Callers fall back to the hand-written family.
var ErrUnguardable = errors.New("chattmpl: the template rewrites message text, so it cannot be guarded")

// Compile parses a Jinja chat template. Templates cannot read other files:
// include, import and extends fail.
func Compile(src string) (t *Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("chattmpl: the chat template crashed the Jinja parser: %v", r)
		}
	}()
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	const root = "tokenizer.chat_template"
	tpl, err := exec.NewTemplate(root, cfg, sealedLoader{root: root, src: src}, environment)
	if err != nil {
		return nil, fmt.Errorf("chattmpl: parse the model's chat template: %s", shorten(err))
	}
	return &Template{tpl: tpl}, nil
}

// Render writes msgs as the template does, ending where the assistant's
// reply begins when addGenerationPrompt is set, and returns where each
// message's text lies in the result as [start, end) byte ranges (see
// ApplyGuarded). Thinking models are asked not to think
// (enable_thinking=false): a character answers directly.
//
// Many templates refuse what a character prompt holds: a system message, or
// two messages of the same role in a row. When the template raises an error
// for the messages as given, Render tries again with the system text moved
// into the first user message and same-role neighbours joined, as
// llama.cpp's template polyfills do.
func (t *Template) Render(msgs []engine.ChatMessage, addGenerationPrompt bool, tok Tokens) (string, [][2]int, error) {
	text, spans, err := t.renderGuarded(msgs, addGenerationPrompt, tok)
	var refused *refusal
	if !errors.As(err, &refused) {
		return text, spans, err
	}
	merged := mergeForStrictTemplates(msgs)
	if len(merged) == len(msgs) {
		return "", nil, err
	}
	text, spans, err2 := t.renderGuarded(merged, addGenerationPrompt, tok)
	if err2 != nil {
		return "", nil, err // the first refusal says what the template wants
	}
	return text, spans, nil
}

// renderGuarded renders twice: once with the messages, once with each
// message's text replaced by a marker nothing else writes. When putting the
// texts in place of the markers gives the first result exactly, the
// markers' places are the texts' places.
func (t *Template) renderGuarded(msgs []engine.ChatMessage, addGenerationPrompt bool, tok Tokens) (string, [][2]int, error) {
	text, err := t.execute(msgs, addGenerationPrompt, tok)
	if err != nil {
		return "", nil, err
	}
	marked := make([]engine.ChatMessage, len(msgs))
	for i, m := range msgs {
		marked[i] = engine.ChatMessage{Role: m.Role, Content: marker(i)}
	}
	withMarkers, err := t.execute(marked, addGenerationPrompt, tok)
	if err != nil {
		return "", nil, ErrUnguardable
	}
	for _, trim := range []bool{false, true} {
		rebuilt, spans, ok := replaceMarkers(withMarkers, msgs, trim)
		if ok && rebuilt == text {
			return text, spans, nil
		}
	}
	return "", nil, ErrUnguardable
}

func (t *Template) execute(msgs []engine.ChatMessage, addGenerationPrompt bool, tok Tokens) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chattmpl: the chat template crashed the Jinja interpreter: %v", r)
		}
	}()
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	list := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		list[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	var raised error
	ctx := exec.NewContext(map[string]any{
		"messages":              list,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             tok.BOS,
		"eos_token":             tok.EOS,
		"enable_thinking":       false,
		// As llama.cpp gives them: Llama 3.1's and FireFunction's
		// templates print today's date.
		"date_string": strftime(now(), "%d %b %Y"),
		"datetime":    strftime(now(), "%b %d %Y"),
		"raise_exception": func(msg string) string {
			raised = &refusal{msg}
			return ""
		},
		"strftime_now": func(format string) string { return strftime(now(), format) },
		"range":        boundedRange,
	})
	var buf cappedBuffer
	err = t.tpl.Execute(&buf, ctx)
	out = buf.String()
	if raised != nil {
		return "", raised
	}
	if err != nil {
		return "", fmt.Errorf("chattmpl: run the model's chat template: %s", shorten(err))
	}
	return out, nil
}

// refusal is an error the template raised itself (raise_exception).
type refusal struct{ msg string }

func (r *refusal) Error() string {
	return "chattmpl: the chat template refuses these messages: " + r.msg
}

// maxPromptBytes bounds what a template may write: far beyond any context
// window, small enough that a broken template cannot fill the memory.
const maxPromptBytes = 16 << 20

type cappedBuffer struct{ strings.Builder }

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxPromptBytes {
		return 0, fmt.Errorf("the template wrote more than %d MiB", maxPromptBytes>>20)
	}
	return b.Builder.Write(p)
}

// maxRange bounds range(): templates count messages, never millions.
const maxRange = 1 << 16

// boundedRange is Jinja's range as a list. It replaces gonja's, which
// feeds a loop from a goroutine that is left blocked when the loop stops
// early.
func boundedRange(_ *exec.Evaluator, params *exec.VarArgs) ([]int, error) {
	args := make([]int, len(params.Args))
	for i, a := range params.Args {
		if !a.IsInteger() {
			return nil, errors.New("range: arguments must be integers")
		}
		args[i] = a.Integer()
	}
	start, stop, step := 0, 0, 1
	switch len(args) {
	case 1:
		stop = args[0]
	case 2:
		start, stop = args[0], args[1]
	case 3:
		start, stop, step = args[0], args[1], args[2]
	default:
		return nil, errors.New("range: expected [start, ]stop[, step]")
	}
	if step == 0 {
		return nil, errors.New("range: step cannot be 0")
	}
	var out []int
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) == maxRange {
			return nil, fmt.Errorf("range: more than %d numbers", maxRange)
		}
		out = append(out, i)
	}
	return out, nil
}

// environment is gonja's, with Python's str.replace, strip, lstrip and
// rstrip taking their optional arguments as Python does (gonja's versions
// refuse replace without a count and strip without characters, which
// SmolLM3's and QwQ's templates use).
var environment = func() *exec.Environment {
	env := *gonja.DefaultEnvironment
	methods := env.Methods
	str := map[string]exec.Method[string]{}
	for _, name := range strings.Fields(`capitalize casefold center count encode endswith expandtabs find format
		index isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable isspace
		istitle isupper join ljust lower lstrip partition removeprefix removesuffix rfind rindex rjust
		rpartition rsplit rstrip split splitlines startswith strip swapcase title translate upper zfill`) {
		if m, ok := methods.Str.Get(name); ok {
			str[name] = m
		}
	}
	str["replace"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		var old, repl string
		count := -1
		if err := args.Take(
			exec.PositionalArgument("old", nil, exec.StringArgument(&old)),
			exec.PositionalArgument("new", nil, exec.StringArgument(&repl)),
			exec.PositionalArgument("count", exec.AsValue(-1), exec.IntArgument(&count)),
		); err != nil {
			return nil, exec.ErrInvalidCall(err)
		}
		return strings.Replace(self, old, repl, count), nil
	}
	for name, trim := range map[string]func(string, string) string{
		"strip":  strings.Trim,
		"lstrip": strings.TrimLeft,
		"rstrip": strings.TrimRight,
	} {
		str[name] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
			chars := ""
			if len(args.Args) > 1 || len(args.KwArgs) > 0 {
				return nil, exec.ErrInvalidCall(fmt.Errorf("%s takes at most one argument", name))
			}
			if len(args.Args) == 1 && !args.Args[0].IsNil() {
				if !args.Args[0].IsString() {
					return nil, exec.ErrInvalidCall(fmt.Errorf("%s: the characters must be a string", name))
				}
				chars = args.Args[0].String()
			}
			if chars == "" && (len(args.Args) == 0 || args.Args[0].IsNil()) {
				chars = pythonWhitespace
			}
			return trim(self, chars), nil
		}
	}
	methods.Str = exec.NewMethodSet(str)
	env.Methods = methods
	return &env
}()

// pythonWhitespace is what str.strip() removes without arguments.
const pythonWhitespace = " \t\n\r\v\f\u001c\u001d\u001e\u001f\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

// marker stands for message i's text. Private-use runes keep it apart from
// anything a template writes, and it has no spaces for a trim to remove.
func marker(i int) string { return fmt.Sprintf("\uE000%d\uE001", i) }

// replaceMarkers puts the messages' texts (trimmed, when trim is set, as
// many templates trim them) where their markers are and notes where each
// went.
func replaceMarkers(s string, msgs []engine.ChatMessage, trim bool) (string, [][2]int, bool) {
	var b strings.Builder
	var spans [][2]int
	for {
		start := strings.IndexRune(s, '\uE000')
		if start < 0 {
			b.WriteString(s)
			return b.String(), spans, true
		}
		end := strings.IndexRune(s[start:], '\uE001')
		if end < 0 {
			return "", nil, false
		}
		var i int
		if _, err := fmt.Sscanf(s[start+len("\uE000"):start+end], "%d", &i); err != nil || i < 0 || i >= len(msgs) {
			return "", nil, false
		}
		b.WriteString(s[:start])
		content := msgs[i].Content
		if trim {
			content = strings.TrimSpace(content)
		}
		if content != "" {
			spans = append(spans, [2]int{b.Len(), b.Len() + len(content)})
		}
		b.WriteString(content)
		s = s[start+end+len("\uE001"):]
	}
}

// mergeForStrictTemplates moves a leading system message into the first
// user message and joins neighbours of the same role.
func mergeForStrictTemplates(msgs []engine.ChatMessage) []engine.ChatMessage {
	var out []engine.ChatMessage
	system := ""
	for _, m := range msgs {
		role := m.Role
		if role == "system" {
			system = joinText(system, m.Content)
			continue
		}
		if role != "assistant" {
			role = "user"
		}
		content := m.Content
		if role == "user" && system != "" {
			content, system = joinText(system, content), ""
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content = joinText(out[n-1].Content, content)
			continue
		}
		out = append(out, engine.ChatMessage{Role: role, Content: content})
	}
	if system != "" {
		out = append(out, engine.ChatMessage{Role: "user", Content: system})
	}
	return out
}

// joinText joins two message texts with a newline, as llama.cpp's
// polyfill puts the system text before the first user message.
func joinText(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n" + b
}

// sealedLoader serves the template itself and nothing else: a template in
// a downloaded model file must not read the machine's files.
type sealedLoader struct{ root, src string }

func (l sealedLoader) Read(path string) (io.Reader, error) {
	if path != l.root {
		return nil, fmt.Errorf("chat templates cannot load other templates (%q)", path)
	}
	return bytes.NewReader([]byte(l.src)), nil
}

func (l sealedLoader) Resolve(path string) (string, error) {
	if path != l.root {
		return "", fmt.Errorf("chat templates cannot load other templates (%q)", path)
	}
	return path, nil
}

func (l sealedLoader) Inherit(string) (loaders.Loader, error) { return l, nil }

// shorten keeps an interpreter error readable: gonja quotes the whole
// template source in some of them.
func shorten(err error) string {
	s := err.Error()
	if i := strings.Index(s, "failed to parse template '"); i >= 0 {
		if j := strings.LastIndex(s, "': "); j > i {
			s = s[:i] + "failed to parse template: " + s[j+3:]
		}
	}
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// strftime formats t with the C directives chat templates use (Llama 3
// and Granite print today's date).
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'B':
			b.WriteString(t.Month().String())
		case 'b':
			b.WriteString(t.Month().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
