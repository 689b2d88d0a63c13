package characters

import (
	"strconv"
	"strings"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters/lorebook"
	"github.com/maopao/maopao/engine"
)

// Greeting is the character's first message with macros expanded.
func Greeting(c maopao.Character, userName string) string {
	return ExpandMacros(c.FirstMes, macroName(c), userName)
}

// macroName is what {{char}} stands for: the V3 nickname when there is one.
func macroName(c maopao.Character) string {
	if strings.TrimSpace(c.Nickname) != "" {
		return c.Nickname
	}
	return c.Name
}

// DefaultSystemPrompt is used when a character has no system prompt of its
// own; a card's system_prompt may include it with {{original}}.
const DefaultSystemPrompt = "You are {{char}}. Stay in character and reply to {{user}} as {{char}} would, in one or a few short paragraphs. Never speak for {{user}}."

// PromptInput is everything a chat prompt is built from.
type PromptInput struct {
	Character maopao.Character
	UserName  string
	// UserDescription is the player's persona description; it goes after
	// the character's definition, where SillyTavern puts it.
	UserDescription string
	Memory          maopao.Memory
	// History is the conversation so far in ascending order, ending with
	// the player's line to answer.
	History []maopao.Message
	// ContextSize is the model's context window; ReserveTokens is left free
	// for the reply. ContextSize 0 means no limit.
	ContextSize   int
	ReserveTokens int
	// CountTokens counts tokens with the model's tokenizer; nil estimates.
	CountTokens func(string) int
	// Seed fixes {{random}}, {{pick}} and {{roll}} so that a world
	// simulation rebuilds the same prompt when it replays; one seed per
	// conversation keeps {{pick}} stable for the whole chat.
	Seed uint64
	// MessageCount is how many messages the conversation has had, for
	// lorebook @@activate_only_after/@@activate_only_every and to draw
	// fresh {{random}} values each turn. 0 means the Seq of the last
	// History message.
	MessageCount int
}

// Each message costs its text plus a few tokens of chat-template framing.
const framing = 8

// PictureTokens is what a picture is counted as in a prompt's budget
// (vision models turn one into a few hundred tokens).
const PictureTokens = 300

// BuildPrompt assembles the chat messages for the engine; see
// BuildPromptReport.
func BuildPrompt(in PromptInput) []engine.ChatMessage {
	msgs, _ := BuildPromptReport(in)
	return msgs
}

// BuildPromptReport assembles the chat messages for the engine and says
// which lorebook entries fired, so a studio test chat can show them.
//
// The prompt is a system message (the system prompt, before_char lore, the
// character definition, after_char lore, what the character remembers and
// the example dialogues), then the recent history with @@depth lore
// inserted into it as messages of their own, then the post-history
// instructions. Within ContextSize-ReserveTokens, what must stay comes
// first: the system prompt, definition, memory, post-history instructions
// and the newest message; then lore (lower priority entries dropped first),
// then example dialogues (later ones dropped first), then as much older
// history as fits, newest kept. creator_notes never reach a prompt.
//
// Lore is scanned over the history, preceded by the greeting when the
// history starts at the conversation's beginning, so "chat[i]" in a reason
// counts the greeting as chat[0] then. Entry costs in the report include a
// message's template framing.
func BuildPromptReport(in PromptInput) ([]engine.ChatMessage, lorebook.Result) {
	b := newPromptBuild(in)
	sys, post := b.instructions()
	greeting, showGreeting := b.greeting()

	// The parts that always go in, measured without lore and examples.
	def := definition{c: in.Character, user: b.user, persona: in.UserDescription, x: b.x, sys: sys, mem: in.Memory}
	b.used = b.count(def.render(nil, nil)) + framing
	if post != nil {
		b.used += b.count(post.Content) + framing
	}
	if n := len(in.History); n > 0 {
		b.used += b.count(in.History[n-1].Content) + framing
	}
	res := b.lore(greeting, showGreeting)
	examples := b.examples()
	system := engine.ChatMessage{Role: "system", Content: def.render(res.Entries, examples)}
	depth := depthMessages(res.Entries)
	hist := b.history(system, post, depth, greeting, showGreeting)
	return assemble(system, hist, depth, post), res
}

// promptBuild is one prompt being put together within its token budget.
type promptBuild struct {
	in       PromptInput
	user     string
	msgCount int
	env      MacroEnv
	x        func(string) string
	count    func(string) int
	limited  bool // the context has a size
	budget   int
	used     int
}

func newPromptBuild(in PromptInput) *promptBuild {
	b := &promptBuild{in: in, user: in.UserName, msgCount: in.MessageCount, count: in.CountTokens,
		limited: in.ContextSize > 0, budget: in.ContextSize - in.ReserveTokens}
	if b.user == "" {
		b.user = "User"
	}
	if b.msgCount <= 0 && len(in.History) > 0 {
		b.msgCount = max(int(in.History[len(in.History)-1].Seq), len(in.History))
	}
	b.env = MacroEnv{Char: macroName(in.Character), User: b.user, Seed: in.Seed, Turn: uint64(b.msgCount)}
	b.x = b.env.Expand
	if b.count == nil {
		b.count = func(s string) int { return len(s)/4 + 1 }
	}
	return b
}

// instructions are the system prompt and the post-history instructions
// (nil when the card has none), macros expanded.
func (b *promptBuild) instructions() (string, *engine.ChatMessage) {
	c := b.in.Character
	sys := c.SystemPrompt
	if strings.TrimSpace(sys) == "" {
		sys = DefaultSystemPrompt
	} else {
		sys = strings.ReplaceAll(sys, "{{original}}", DefaultSystemPrompt)
	}
	sys = b.x(sys)
	var post *engine.ChatMessage
	if p := strings.TrimSpace(c.PostHistoryInstructions); p != "" {
		// The default post-history instructions are empty.
		p = strings.TrimSpace(b.x(strings.ReplaceAll(p, "{{original}}", "")))
		if p != "" {
			post = &engine.ChatMessage{Role: "system", Content: p}
		}
	}
	return sys, post
}

// greeting is the card's greeting and whether the prompt shows it: at the
// start of a chat that has not stored it as its first message.
func (b *promptBuild) greeting() (string, bool) {
	greeting := Greeting(b.in.Character, b.user)
	atStart := len(b.in.History) == 0 || b.in.History[0].Seq <= 1
	// Chats store their greeting as their first message; older chats
	// have it only on the card.
	storedGreeting := false
	for _, m := range b.in.History {
		storedGreeting = storedGreeting || m.Greeting
	}
	return greeting, greeting != "" && atStart && b.in.Memory.Summary == "" && !storedGreeting
}

// lore activates the lorebook over the whole visible chat, within what the
// budget has left.
func (b *promptBuild) lore(greeting string, showGreeting bool) lorebook.Result {
	var scan []lorebook.Message
	if showGreeting {
		scan = append(scan, lorebook.Message{Role: "assistant", Text: greeting})
	}
	for _, m := range b.in.History {
		scan = append(scan, lorebook.Message{Role: chatRole(m.Role), Text: m.Content})
	}
	loreBudget := 0
	if b.limited {
		loreBudget = b.budget - b.used
		if loreBudget <= 0 {
			loreBudget = -1
		}
	}
	count := b.count
	res := lorebook.Activate(b.in.Character.CharacterBook, scan, lorebook.Options{
		TokenBudget: loreBudget,
		// Charging each entry a message's framing keeps the estimate on
		// the safe side whether it joins the system message or stands
		// alone at a depth.
		CountTokens:  func(s string) int { return count(s) + framing },
		MessageIndex: b.msgCount,
		CharName:     b.env.Char, UserName: b.user,
		Expand: b.x,
		Seed:   b.in.Seed,
	})
	b.used += res.TokensUsed
	return res
}

// examples are the example dialogues that fit, in order.
func (b *promptBuild) examples() []string {
	var examples []string
	for _, ex := range splitExamples(b.in.Character.MesExample) {
		ex = b.x(ex)
		cost := b.count(exampleLabel(len(examples)) + ex)
		if len(examples) == 0 {
			cost += b.count(examplesHeader)
		}
		if b.limited && b.used+cost > b.budget {
			continue
		}
		b.used += cost
		examples = append(examples, ex)
	}
	return examples
}

// depthMessage is lore that goes into the history Depth messages from its
// end, as a message of its own.
type depthMessage struct {
	depth int
	msg   engine.ChatMessage
}

// depthMessages gathers @@depth lore, one message per depth and role.
func depthMessages(entries []lorebook.Activated) []depthMessage {
	var out []depthMessage
	slot := map[[2]string]int{}
	for _, a := range entries {
		if a.Depth < 0 {
			continue
		}
		k := [2]string{strconv.Itoa(a.Depth), a.Role}
		if i, ok := slot[k]; ok {
			out[i].msg.Content += "\n" + a.Content
			continue
		}
		slot[k] = len(out)
		out = append(out, depthMessage{a.Depth, engine.ChatMessage{Role: a.Role, Content: a.Content}})
	}
	return out
}

// history recounts exactly what is fixed now, then keeps as much history
// as fits, newest first; the newest message always goes in, the greeting
// only when the whole chat fits.
func (b *promptBuild) history(system engine.ChatMessage, post *engine.ChatMessage, depth []depthMessage, greeting string, showGreeting bool) []engine.ChatMessage {
	b.used = b.count(system.Content) + framing
	if post != nil {
		b.used += b.count(post.Content) + framing
	}
	for _, d := range depth {
		b.used += b.count(d.msg.Content) + framing
	}
	var kept []engine.ChatMessage
	reachedStart := true
	for i := len(b.in.History) - 1; i >= 0; i-- {
		m := b.in.History[i]
		msg := engine.ChatMessage{Role: chatRole(m.Role), Content: m.Content}
		for _, id := range m.Pictures {
			msg.Pictures = append(msg.Pictures, engine.Picture{ID: id})
		}
		cost := b.count(msg.Content) + framing + len(msg.Pictures)*PictureTokens
		if b.limited && b.used+cost > b.budget && len(kept) > 0 {
			reachedStart = false
			break
		}
		b.used += cost
		kept = append(kept, msg)
	}
	var hist []engine.ChatMessage
	if reachedStart && showGreeting {
		if !b.limited || b.used+b.count(greeting)+framing <= b.budget {
			hist = append(hist, engine.ChatMessage{Role: "assistant", Content: greeting})
		}
	}
	for i := len(kept) - 1; i >= 0; i-- {
		hist = append(hist, kept[i])
	}
	return hist
}

// assemble orders the prompt: the system message, the history with depth
// lore inside it (depth N before the last N messages; deeper than the
// history before its oldest message), then the post-history instructions.
func assemble(system engine.ChatMessage, hist []engine.ChatMessage, depth []depthMessage, post *engine.ChatMessage) []engine.ChatMessage {
	out := []engine.ChatMessage{system}
	for i := 0; i <= len(hist); i++ {
		fromEnd := len(hist) - i
		for _, d := range depth {
			if d.depth == fromEnd || (i == 0 && d.depth > fromEnd) {
				out = append(out, d.msg)
			}
		}
		if i < len(hist) {
			out = append(out, hist[i])
		}
	}
	if post != nil {
		out = append(out, *post)
	}
	return out
}

// definition renders the system message.
type definition struct {
	c       maopao.Character
	user    string
	persona string
	x       func(string) string
	sys     string
	mem     maopao.Memory
}

func (d definition) render(lore []lorebook.Activated, examples []string) string {
	c, x := d.c, d.x
	at := map[string][]string{}
	for _, a := range lore {
		if a.Depth >= 0 {
			continue
		}
		pos := a.Position
		// Lore for a section the card lacks goes after the definition.
		if (pos == lorebook.PositionPersonality && strings.TrimSpace(c.Personality) == "") ||
			(pos == lorebook.PositionScenario && strings.TrimSpace(c.Scenario) == "") {
			pos = lorebook.PositionAfterChar
		}
		at[pos] = append(at[pos], a.Content)
	}
	var b strings.Builder
	b.WriteString(d.sys)
	para := func(parts []string) {
		if len(parts) > 0 {
			b.WriteString("\n\n")
			b.WriteString(strings.Join(parts, "\n"))
		}
	}
	section := func(title, body string, extra []string) {
		body = strings.TrimSpace(body)
		if body == "" {
			return
		}
		b.WriteString("\n\n")
		b.WriteString(title)
		b.WriteString(":\n")
		b.WriteString(x(body))
		for _, e := range extra {
			b.WriteString("\n")
			b.WriteString(e)
		}
	}
	para(at[lorebook.PositionBeforeChar])
	section(c.Name, c.Description, nil)
	section("Personality", c.Personality, at[lorebook.PositionPersonality])
	section("Scenario", c.Scenario, at[lorebook.PositionScenario])
	para(at[lorebook.PositionAfterChar])
	section(d.user, d.persona, nil)
	if len(d.mem.Facts) > 0 {
		section("What "+c.Name+" knows about "+d.user, "- "+strings.Join(d.mem.Facts, "\n- "), nil)
	}
	section("Earlier in this conversation", d.mem.Summary, nil)
	if len(examples) > 0 {
		b.WriteString(examplesHeader)
		for i, ex := range examples {
			b.WriteString(exampleLabel(i))
			b.WriteString(ex)
		}
	}
	return b.String()
}

const examplesHeader = "\n\nExample dialogues (they show the style; they are not part of this conversation):"

func exampleLabel(i int) string { return "\n\n[Example " + strconv.Itoa(i+1) + "]\n" }

// splitExamples splits mes_example at its <START> markers (any case) into
// example dialogues; text before the first marker is an example too.
func splitExamples(s string) []string {
	var out []string
	for {
		i := indexFold(s, "<START>")
		part := s
		if i >= 0 {
			part = s[:i]
		}
		if t := strings.TrimSpace(part); t != "" {
			out = append(out, t)
		}
		if i < 0 {
			return out
		}
		s = s[i+len("<START>"):]
	}
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func chatRole(r maopao.Role) string {
	switch r {
	case maopao.RoleCharacter:
		return "assistant"
	case maopao.RoleSystem:
		return "system"
	default:
		return "user"
	}
}
