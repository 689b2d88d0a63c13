package chattmpl

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"

	"github.com/maopao/maopao/engine"
)

// Template is a model's own Jinja chat template (the GGUF key
// tokenizer.chat_template), run by Ardan Labs' Jinja interpreter, which is
// written for the chat templates in GGUF files and applies the settings
// Hugging Face's transformers and llama.cpp use (trim_blocks,
// lstrip_blocks). It lets a model whose format has no hand-written Family
// get the prompt it was trained on. A Template is safe for concurrent use.
type Template struct {
	tpl *jinja.Template
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
// the interpreter has no include, import or extends.
func Compile(src string) (t *Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("chattmpl: the chat template crashed the Jinja parser: %v", r)
		}
	}()
	tpl, err := jinja.Compile(src)
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
	list := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		// Built key by key, not from a Go map: a template that walks a
		// message's items sees role before content, as in Python.
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(m.Role))
		d.AsDict().Set("content", jinja.NewString(m.Content))
		list[i] = d
	}
	var raised error
	budget := rangeBudget
	out, err = t.tpl.RenderValues(map[string]jinja.Value{
		"messages":              jinja.NewList(list),
		"add_generation_prompt": jinja.NewBool(addGenerationPrompt),
		"bos_token":             jinja.NewString(tok.BOS),
		"eos_token":             jinja.NewString(tok.EOS),
		"enable_thinking":       jinja.NewBool(false),
		// As llama.cpp gives them: Llama 3.1's and FireFunction's
		// templates print today's date.
		// llama-server's default (preserve_reasoning): past assistant
		// turns keep their reasoning block. Characters' turns have none,
		// but templates draw an empty block for them or not by these.
		"preserve_thinking":         jinja.NewBool(true),
		"clear_thinking":            jinja.NewBool(false),
		"truncate_history_thinking": jinja.NewBool(false),
		"drop_thinking":             jinja.NewBool(false),
		"date_string":               jinja.NewString(strftime(now(), "%d %b %Y")),
		"datetime":                  jinja.NewString(strftime(now(), "%b %d %Y")),
		"raise_exception": jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			msg := "(no message)"
			if len(args) > 0 {
				msg = args[0].String()
			}
			raised = &refusal{msg}
			return jinja.Undefined(), raised
		}),
		"strftime_now": jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			if len(args) != 1 || !args[0].IsString() {
				return jinja.Undefined(), errors.New("strftime_now: expected one format string")
			}
			return jinja.NewString(strftime(now(), args[0].AsString())), nil
		}),
		"range": jinja.NewCallable("range", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			return boundedRange(args, &budget)
		}),
	})
	if raised != nil {
		return "", raised
	}
	if err != nil {
		return "", fmt.Errorf("chattmpl: run the model's chat template: %s", shorten(err))
	}
	if len(out) > maxPromptBytes {
		return "", fmt.Errorf("chattmpl: run the model's chat template: it wrote more than %d MiB", maxPromptBytes>>20)
	}
	return out, nil
}

// refusal is an error the template raised itself (raise_exception).
type refusal struct{ msg string }

func (r *refusal) Error() string {
	return "chattmpl: the chat template refuses these messages: " + r.msg
}

// maxPromptBytes bounds what a template may write: far beyond any context
// window.
const maxPromptBytes = 16 << 20

// maxRange bounds one range(), and rangeBudget all of a rendering's
// together: templates count messages, never millions, and loops over
// ranges nested in ranges must not run for hours.
const (
	maxRange    = 1 << 16
	rangeBudget = 1 << 20
)

// boundedRange is Jinja's range as a list, drawing its numbers from the
// rendering's budget.
func boundedRange(params []jinja.Value, budget *int) (jinja.Value, error) {
	args := make([]int64, len(params))
	for i, a := range params {
		if !a.IsInt() {
			return jinja.Undefined(), errors.New("range: arguments must be integers")
		}
		args[i] = a.AsInt()
	}
	var start, stop, step int64 = 0, 0, 1
	switch len(args) {
	case 1:
		stop = args[0]
	case 2:
		start, stop = args[0], args[1]
	case 3:
		start, stop, step = args[0], args[1], args[2]
	default:
		return jinja.Undefined(), errors.New("range: expected [start, ]stop[, step]")
	}
	if step == 0 {
		return jinja.Undefined(), errors.New("range: step cannot be 0")
	}
	var out []jinja.Value
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) == maxRange {
			return jinja.Undefined(), fmt.Errorf("range: more than %d numbers", maxRange)
		}
		if *budget == 0 {
			return jinja.Undefined(), fmt.Errorf("range: more than %d numbers in all of the template's ranges", rangeBudget)
		}
		*budget--
		out = append(out, jinja.NewInt(i))
	}
	return jinja.NewList(out), nil
}

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

// shorten keeps an interpreter error readable.
func shorten(err error) string {
	s := err.Error()
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
