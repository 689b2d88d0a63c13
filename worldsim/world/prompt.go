package world

import (
	"strconv"
	"strings"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/characters/lorebook"
	"github.com/maopao/maopao/engine"
)

// Prompts are assembled here rather than with characters.BuildPrompt: a
// world prompt has no single user to write {{user}} for and no one-to-one
// history, but it follows the same rules (the card's system prompt or the
// default, macros expanded, creator_notes never included, post-history
// instructions last, newest history kept when the budget is tight).

// worldSystemPrompt is the default for a character speaking in a world.
const worldSystemPrompt = "You are {{char}}, living in a shared world with other characters and people. Stay in character. Speak only as {{char}}: one or two short sentences of speech, no narration for others, no name prefix."

// tokensOf estimates tokens when the state has no tokenizer (replays in
// tests, tools that read snapshots).
func tokensOf(s string) int { return len(s)/4 + 1 }

// tokens counts text with the model's tokenizer when the runner gave one
// (State.CountTokens), else estimates. One model gives one count, so
// every owner of a world builds the same prompts.
func (s *State) tokens(text string) int {
	if s.CountTokens != nil {
		return s.CountTokens(text)
	}
	return tokensOf(text)
}

const framing = 8 // template tokens around each message

func (s *State) request(w *Work, msgs []engine.ChatMessage) engine.Request {
	req := s.Config.Sampling
	req.Stop = append([]string(nil), req.Stop...)
	req.MaxTokens = s.Config.MaxTokens
	req.Messages = msgs
	// A per-work seed keeps sampled replies reproducible from the log.
	req.Seed = mix64(s.Seed ^ uint64(w.Seq)*0x9e3779b97f4a7c15)
	return req
}

// replyRequest builds the prompt for a character's line in a room, in an
// autonomous conversation, or in private with one player.
func (s *State) replyRequest(w *Work) engine.Request {
	a := &s.Actors[w.Actor]
	c := a.Card
	private := w.Audience.PlayerID != ""
	user := "everyone here"
	var listener string
	if private {
		if k, ok := s.player(w.Audience.PlayerID); ok {
			user = s.People[k].Name
		} else {
			user = "someone"
		}
		listener = user
	} else if w.Kind == WorkTalk {
		if cv := s.conversation(w.Conv); cv != nil {
			for _, m := range cv.Members {
				if m != w.Actor {
					listener = s.Actors[m].Card.Name
				}
			}
			user = listener
		}
	}
	x := func(t string) string { return characters.ExpandMacros(t, c.Name, user) }

	sys := c.SystemPrompt
	if strings.TrimSpace(sys) == "" {
		sys = worldSystemPrompt
	} else {
		sys = strings.ReplaceAll(sys, "{{original}}", worldSystemPrompt)
	}
	var b strings.Builder
	b.WriteString(x(sys))
	section := func(title, body string) {
		if body = strings.TrimSpace(body); body != "" {
			b.WriteString("\n\n" + title + ":\n" + body)
		}
	}
	var lines []Line
	if private {
		if t := s.thread(w.Audience.PlayerID, c.ID); t != nil {
			lines = t.Lines
		}
	} else if r := s.room(w.Audience.LocationID); r != nil {
		lines = r.Lines
	}
	lines = s.heardLines(w.Actor, lines)
	lore := s.activateLore(w, c.CharacterBook, c, user, lines, 0x6c6f7265)
	section("Lore", strings.Join(lore[lorebook.PositionBeforeChar], "\n"))
	section(c.Name, x(c.Description))
	section("Personality", x(c.Personality)+loreAfter(lore[lorebook.PositionPersonality]))
	section("Scenario", x(c.Scenario)+loreAfter(lore[lorebook.PositionScenario]))
	section("More lore", strings.Join(lore[lorebook.PositionAfterChar], "\n"))
	section("World", strings.TrimSpace(s.World.Name+". "+s.World.Description))
	worldLore := s.activateLore(w, s.World.Lorebook, c, user, lines, 0x776f726c64)
	section("World lore", strings.Join(append(worldLore[lorebook.PositionBeforeChar], worldLore[lorebook.PositionAfterChar]...), "\n"))
	if l, ok := s.location(a.Location); ok {
		section("Where "+c.Name+" is", strings.TrimSpace(l.Name+". "+l.Description))
	}
	now := "It is " + TimeOfDay(s.Clock) + "."
	if a.Activity != "" {
		now += " " + c.Name + " is busy: " + a.Activity + "."
	}
	section("Now", now)
	if private {
		section("Who is listening", "Only "+user+", in private. Nobody else hears this.")
	} else {
		section("Who is here", s.presentList(a.Location, w.Actor))
	}
	if mems := s.retrieve(w.Actor, w.Query, w.Audience, s.Config.RetrieveK); len(mems) > 0 {
		var m strings.Builder
		for k, r := range mems {
			if k > 0 {
				m.WriteString("\n")
			}
			m.WriteString("- [" + TimeOfDay(r.SimMinute) + "] " + r.Text)
		}
		section("What "+c.Name+" remembers", m.String())
	}
	section("Example dialogue", x(strings.ReplaceAll(c.MesExample, "<START>", "")))
	system := engine.ChatMessage{Role: "system", Content: b.String()}

	var post []engine.ChatMessage
	if p := strings.TrimSpace(c.PostHistoryInstructions); p != "" {
		post = append(post, engine.ChatMessage{Role: "system", Content: x(strings.ReplaceAll(p, "{{original}}", ""))})
	}
	cue := "[" + c.Name + ", say your next line.]"
	if w.Kind == WorkTalk && listener != "" {
		cue = "[You are with " + listener + ". Say your next line to them.]"
	}
	return s.request(w, fitHistory(system, lines, c.ID, cue, post, s.Config.ContextSize-s.Config.MaxTokens, s.tokens))
}

// activateLore fires a lorebook (the speaker's card's, or the world's) on
// what was said where the speaker is, as a chat does (the same activation
// engine; keys scanned in the latest lines; probability rolls seeded by
// the world, the work and salt, so a replay fires the same entries),
// within an eighth of the context. Entries go where their position says;
// those inserted at a depth in a chat join the after-character ones, as a
// world prompt has no chat to insert into. The result maps position to
// contents.
func (s *State) activateLore(w *Work, book *maopao.Lorebook, c maopao.Character, user string, lines []Line, salt uint64) map[string][]string {
	if book == nil || len(book.Entries) == 0 {
		return nil
	}
	chat := make([]lorebook.Message, len(lines))
	for i, l := range lines {
		role := "user"
		if l.From == c.ID {
			role = "assistant"
		}
		chat[i] = lorebook.Message{Role: role, Text: l.FromName + ": " + l.Text}
	}
	budget := max(s.Config.ContextSize/8, 1)
	res := lorebook.Activate(book, chat, lorebook.Options{
		TokenBudget: budget, CountTokens: s.tokens, CharName: c.Name, UserName: user,
		Seed: mix64(s.Seed ^ uint64(w.Seq)*0x9e3779b97f4a7c15 ^ salt), MessageIndex: len(lines),
	})
	out := map[string][]string{}
	for _, a := range res.Entries {
		pos := a.Position
		if a.Depth >= 0 {
			pos = lorebook.PositionAfterChar
		}
		out[pos] = append(out[pos], a.Content)
	}
	return out
}

func loreAfter(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return "\n" + strings.Join(parts, "\n")
}

// presentList names who is at a location besides actor self.
func (s *State) presentList(loc string, self int) string {
	var names []string
	for _, i := range s.actorsAt(loc) {
		if i != self {
			names = append(names, s.Actors[i].Card.Name)
		}
	}
	const list = 12
	more := 0
	if len(names) > list {
		more = len(names) - list
		names = names[:list]
	}
	for _, p := range s.playersAt(loc) {
		names = append(names, p.Name+" (a visitor)")
	}
	if more > 0 {
		names = append(names, strconv.Itoa(more)+" others")
	}
	if len(names) == 0 {
		return "Nobody else."
	}
	return strings.Join(names, ", ")
}

// fitHistory turns transcript lines into chat messages (the speaker's own
// lines as the assistant, everyone else's as the user, neighbours of one
// role merged for templates that need alternation), keeps the newest that
// fit the budget, and ends with a user turn so the model speaks next.
func fitHistory(system engine.ChatMessage, lines []Line, self, cue string, post []engine.ChatMessage, budget int, tokensOf func(string) int) []engine.ChatMessage {
	var hist []engine.ChatMessage
	for _, l := range lines {
		m := engine.ChatMessage{Role: "user", Content: l.FromName + ": " + l.Text}
		if l.FromKind == KindEvent {
			m.Content = "[" + l.Text + "]" // narration, not anyone's words
		}
		if len(l.Pictures) > 0 {
			m.Content = l.FromName + " shows " + countPictures(len(l.Pictures)) + ": " + l.Text
			for _, id := range l.Pictures {
				m.Pictures = append(m.Pictures, engine.Picture{ID: id})
			}
		}
		if l.From == self {
			m = engine.ChatMessage{Role: "assistant", Content: l.Text}
		}
		if n := len(hist); n > 0 && hist[n-1].Role == m.Role {
			hist[n-1].Content += "\n" + m.Content
			hist[n-1].Pictures = append(hist[n-1].Pictures, m.Pictures...)
			continue
		}
		hist = append(hist, m)
	}
	if n := len(hist); n == 0 || hist[n-1].Role != "user" {
		hist = append(hist, engine.ChatMessage{Role: "user", Content: cue})
	}
	used := tokensOf(system.Content) + framing
	for _, p := range post {
		used += tokensOf(p.Content) + framing
	}
	start := len(hist)
	for start > 0 {
		cost := tokensOf(hist[start-1].Content) + framing
		if used+cost > budget && start < len(hist) {
			break
		}
		used += cost
		start--
	}
	// Chat templates want the first non-system turn to be the user's.
	for start < len(hist)-1 && hist[start].Role != "user" {
		start++
	}
	out := append([]engine.ChatMessage{system}, hist[start:]...)
	return append(out, post...)
}

// captionRequest asks what the pictures a player showed show, in a
// sentence a resident can remember.
func (s *State) captionRequest(w *Work) engine.Request {
	var pics []engine.Picture
	for _, id := range w.Pictures {
		pics = append(pics, engine.Picture{ID: id})
	}
	req := s.request(w, []engine.ChatMessage{
		{Role: "system", Content: "You describe pictures in plain words for someone who cannot see them."},
		{Role: "user", Content: "Say in one short sentence what this shows.", Pictures: pics},
	})
	req.MaxTokens = 60
	return req
}

// RatingMessages ask the engine how significant a memory is (the
// Generative Agents prompt); ParseScore reads the answer.
func RatingMessages(memory string) []engine.ChatMessage {
	return []engine.ChatMessage{
		{Role: "system", Content: "You rate memories. Answer with a single whole number from 1 to 10 and nothing else."},
		{Role: "user", Content: "On a scale from 1 to 10, where 1 is entirely everyday (making tea, walking to the shop) and 10 is deeply moving (a death in the family, falling in love), how significant is this memory?\nMemory: " + memory + "\nRating:"},
	}
}

// ParseScore reads the first whole number 1..10 in a rating answer.
func ParseScore(text string) (int, bool) { return parseScore(text) }

// ParseInsight reads one line of a reflection answer: the insight and the
// numbers of the statements it cites ("insight (because of 1, 5)").
func ParseInsight(line string) (string, []int) { return parseInsight(line) }

func (s *State) rateRequest(w *Work) engine.Request {
	msgs := RatingMessages(w.Query)
	req := s.request(w, msgs)
	req.MaxTokens = 4
	return req
}

// reflectRequest numbers the actor's most recent shared memories (private
// ones stay out: an insight is not private, so it must not carry any) and
// asks for insights that cite them.
func (s *State) reflectRequest(w *Work) engine.Request {
	a := &s.Actors[w.Actor]
	// The newest shared memories that fit, numbered oldest first.
	budget := s.Config.ContextSize - s.Config.MaxTokens - 200
	var recent []*Memory
	used := 0
	for k := len(a.Stream) - 1; k >= 0 && len(recent) < s.Config.ReflectionWindow; k-- {
		m := &a.Stream[k]
		if m.PrivateTo != "" {
			continue
		}
		cost := s.tokens(m.Text) + 2
		if used+cost > budget {
			break
		}
		used += cost
		recent = append(recent, m)
	}
	var b strings.Builder
	b.WriteString("Statements about " + a.Card.Name + ":\n")
	w.Evidence = w.Evidence[:0]
	for k := len(recent) - 1; k >= 0; k-- {
		m := recent[k]
		w.Evidence = append(w.Evidence, memoryID(a.Card.ID, m.Seq))
		b.WriteString(strconv.Itoa(len(w.Evidence)) + ". " + m.Text + "\n")
		m.LastAccess = s.Clock
	}
	b.WriteString("\nWhat 3 high-level insights about " + a.Card.Name + " can you infer from the statements above? Write one per line, each followed by the numbers of the statements it rests on, like: insight (because of 1, 5, 3)")
	return s.request(w, []engine.ChatMessage{
		{Role: "system", Content: "You are the inner voice of " + a.Card.Name + ", thinking about what recent events mean."},
		{Role: "user", Content: b.String()},
	})
}
