package characters

import (
	"strings"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/engine"
)

// ExpandMacros replaces the card macros for the character's and the
// player's names, in both the {{...}} and the older <BOT>/<USER> spellings.
func ExpandMacros(text, charName, userName string) string {
	if !strings.ContainsAny(text, "{<") {
		return text
	}
	r := strings.NewReplacer(
		"{{char}}", charName, "{{Char}}", charName, "<BOT>", charName, "<bot>", charName,
		"{{user}}", userName, "{{User}}", userName, "<USER>", userName, "<user>", userName,
	)
	return r.Replace(text)
}

// Greeting is the character's first message with macros expanded.
func Greeting(c maopao.Character, userName string) string {
	return ExpandMacros(c.FirstMes, c.Name, userName)
}

// DefaultSystemPrompt is used when a character has no system prompt of its
// own; a card's system_prompt may include it with {{original}}.
const DefaultSystemPrompt = "You are {{char}}. Stay in character and reply to {{user}} as {{char}} would, in one or a few short paragraphs. Never speak for {{user}}."

// PromptInput is everything a chat prompt is built from.
type PromptInput struct {
	Character maopao.Character
	UserName  string
	Memory    maopao.Memory
	// History is the conversation so far in ascending order, ending with
	// the player's line to answer.
	History []maopao.Message
	// ContextSize is the model's context window; ReserveTokens is left free
	// for the reply.
	ContextSize   int
	ReserveTokens int
	// CountTokens counts tokens with the model's tokenizer.
	CountTokens func(string) int
}

// BuildPrompt assembles the chat messages for the engine: a system message
// with the character definition and what the character remembers, then as
// much recent history as fits in the context budget (newest kept), then the
// post-history instructions. creator_notes never reach a prompt.
func BuildPrompt(in PromptInput) []engine.ChatMessage {
	c := in.Character
	user := in.UserName
	if user == "" {
		user = "User"
	}
	x := func(s string) string { return ExpandMacros(s, c.Name, user) }

	sys := c.SystemPrompt
	if strings.TrimSpace(sys) == "" {
		sys = DefaultSystemPrompt
	} else {
		sys = strings.ReplaceAll(sys, "{{original}}", DefaultSystemPrompt)
	}
	var b strings.Builder
	b.WriteString(x(sys))
	section := func(title, body string) {
		if body = strings.TrimSpace(body); body != "" {
			b.WriteString("\n\n")
			b.WriteString(title)
			b.WriteString(":\n")
			b.WriteString(x(body))
		}
	}
	section(c.Name, c.Description)
	section("Personality", c.Personality)
	section("Scenario", c.Scenario)
	if len(in.Memory.Facts) > 0 {
		section("What "+c.Name+" knows about "+user, "- "+strings.Join(in.Memory.Facts, "\n- "))
	}
	section("Earlier in this conversation", in.Memory.Summary)
	section("Example dialogue", strings.ReplaceAll(c.MesExample, "<START>", ""))
	system := engine.ChatMessage{Role: "system", Content: b.String()}

	var post *engine.ChatMessage
	if p := strings.TrimSpace(c.PostHistoryInstructions); p != "" {
		p = strings.ReplaceAll(p, "{{original}}", "")
		post = &engine.ChatMessage{Role: "system", Content: x(p)}
	}

	count := in.CountTokens
	if count == nil {
		count = func(s string) int { return len(s)/4 + 1 }
	}
	// Each message costs its text plus a few tokens of template framing.
	const framing = 8
	budget := in.ContextSize - in.ReserveTokens
	used := count(system.Content) + framing
	if post != nil {
		used += count(post.Content) + framing
	}
	// Walk back from the newest message, keeping what fits; the greeting
	// (shown to the player but not stored) is included when the history is
	// short enough to reach the beginning.
	var kept []engine.ChatMessage
	reachedStart := true
	for i := len(in.History) - 1; i >= 0; i-- {
		m := in.History[i]
		msg := engine.ChatMessage{Role: chatRole(m.Role), Content: m.Content}
		cost := count(msg.Content) + framing
		if in.ContextSize > 0 && used+cost > budget && len(kept) > 0 {
			reachedStart = false
			break
		}
		used += cost
		kept = append(kept, msg)
	}
	out := []engine.ChatMessage{system}
	if g := Greeting(c, user); reachedStart && g != "" && in.Memory.Summary == "" {
		if in.ContextSize <= 0 || used+count(g)+framing <= budget {
			out = append(out, engine.ChatMessage{Role: "assistant", Content: g})
		}
	}
	for i := len(kept) - 1; i >= 0; i-- {
		out = append(out, kept[i])
	}
	if post != nil {
		out = append(out, *post)
	}
	return out
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
