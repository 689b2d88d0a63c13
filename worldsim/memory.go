package worldsim

import (
	"regexp"
	"sort"
	"strings"

	"github.com/maopao/maopao"
)

// remember adds m to the recent history (once, in Seq order) and folds the
// character's messages that fall out of the window into the memory
// summary, so what it said survives beyond the prompt's reach.
func remember(s ChatState, m maopao.Message) ([]maopao.Message, maopao.Memory) {
	h := s.History
	mem := s.Memory
	for _, x := range h {
		if x.ID == m.ID {
			return h, mem
		}
	}
	h = append(append([]maopao.Message(nil), h...), m)
	sort.SliceStable(h, func(i, j int) bool { return h[i].Seq < h[j].Seq })
	window := s.Config.HistoryWindow
	if window <= 0 {
		window = 40
	}
	for len(h) > window {
		old := h[0]
		h = h[1:]
		if old.Seq > mem.SummarizedThrough {
			// The player's lines live on as memories (recall.go), which
			// the player can see and forget; the summary keeps what the
			// character said.
			if old.Role != maopao.RoleUser {
				mem.Summary = foldIntoSummary(mem.Summary, old, s.Character.Name, s.PlayerName)
			}
			mem.SummarizedThrough = old.Seq
		}
	}
	return h, mem
}

// maxSummaryRunes bounds the running summary; the oldest part goes first.
const maxSummaryRunes = 1500

func foldIntoSummary(summary string, m maopao.Message, charName, userName string) string {
	who := userName
	if who == "" {
		who = "User"
	}
	if m.Role == maopao.RoleCharacter {
		who = charName
	}
	line := who + ": " + clip(oneLine(m.Content), 200)
	if summary != "" {
		summary += "\n"
	}
	summary += line
	if r := []rune(summary); len(r) > maxSummaryRunes {
		summary = string(r[len(r)-maxSummaryRunes:])
		if i := strings.IndexByte(summary, '\n'); i >= 0 {
			summary = summary[i+1:]
		}
	}
	return summary
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// factPatterns find what players say about themselves. They are cheap and
// deterministic on purpose: a trained model can refine memories later, but
// a name or a preference must never depend on sampling luck.
var factPatterns = []struct {
	re     *regexp.Regexp
	format string
}{
	{regexp.MustCompile(`(?i)\bmy name is ([\p{L}][\p{L}' -]{0,40})`), "Their name is %s."},
	{regexp.MustCompile(`(?i)\bcall me ([\p{L}][\p{L}' -]{0,40})`), "They like to be called %s."},
	{regexp.MustCompile(`(?i)\bi(?: am|'m) from ([\p{L}][\p{L}' -]{0,40})`), "They are from %s."},
	{regexp.MustCompile(`(?i)\bi live in ([\p{L}][\p{L}' -]{0,40})`), "They live in %s."},
	{regexp.MustCompile(`(?i)\bi (?:really )?(?:like|love|enjoy) ([\p{L}\p{N}][\p{L}\p{N}' -]{0,40})`), "They like %s."},
	{regexp.MustCompile(`(?i)\bi (?:hate|dislike|can't stand) ([\p{L}\p{N}][\p{L}\p{N}' -]{0,40})`), "They dislike %s."},
	{regexp.MustCompile(`(?i)\bi work as an? ([\p{L}][\p{L}' -]{0,40})`), "They work as a %s."},
	{regexp.MustCompile(`(?i)\bi(?: am|'m) an? ([\p{L}][\p{L}' -]{0,40})`), "They are a %s."},
	{regexp.MustCompile(`我叫([\p{Han}\p{L}]{1,10})`), "他们的名字是%s。"},
	{regexp.MustCompile(`我喜欢([^，。！？,.!?]{1,20})`), "他们喜欢%s。"},
	{regexp.MustCompile(`我住在([^，。！？,.!?]{1,20})`), "他们住在%s。"},
}

// ExtractFacts returns facts a player states about themselves in text.
func ExtractFacts(text string) []string {
	var out []string
	for _, p := range factPatterns {
		for _, m := range p.re.FindAllStringSubmatch(text, -1) {
			v := strings.TrimSpace(strings.TrimRight(m[1], " -'"))
			// Stop at the first clause boundary word so "I like tea and
			// I live in Paris" yields two facts, not one long one.
			for _, stop := range []string{" and ", " but ", " because ", " so "} {
				if i := strings.Index(strings.ToLower(v), stop); i > 0 {
					v = v[:i]
				}
			}
			if v != "" {
				out = append(out, strings.Replace(p.format, "%s", v, 1))
			}
		}
	}
	return out
}

// maxFacts bounds the fact list; the oldest facts go first.
const maxFacts = 32

func mergeFacts(have, add []string) []string {
	out := append([]string(nil), have...)
	for _, f := range add {
		dup := false
		for _, h := range out {
			if strings.EqualFold(h, f) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	if len(out) > maxFacts {
		out = out[len(out)-maxFacts:]
	}
	return out
}
