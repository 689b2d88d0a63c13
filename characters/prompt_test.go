package characters

import (
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

func words(s string) int { return len(strings.Fields(s)) + 1 }

func TestBuildPromptKeepsPersonaDropsCreatorNotes(t *testing.T) {
	c := Samples()[0]
	c.CreatorNotes = "SECRET-CREATOR-NOTE"
	c.PostHistoryInstructions = "Answer as {{char}} in under 50 words."
	msgs := BuildPrompt(PromptInput{
		Character: c, UserName: "Ada",
		Memory:      maopao.Memory{Facts: []string{"Their name is Ada."}},
		History:     []maopao.Message{{Seq: 1, Role: maopao.RoleUser, Content: "hello"}},
		ContextSize: 4096, ReserveTokens: 256, CountTokens: words,
	})
	all := ""
	for _, m := range msgs {
		all += m.Role + ":" + m.Content + "\n"
	}
	if strings.Contains(all, "SECRET-CREATOR-NOTE") {
		t.Fatal("creator notes reached the prompt")
	}
	for _, want := range []string{c.Description, "Their name is Ada.", "Ada steps into Xiaoyu", "user:hello", "Answer as Lin Xiaoyu in under 50 words."} {
		if !strings.Contains(all, want) {
			t.Errorf("prompt lacks %q:\n%s", want, all)
		}
	}
	if msgs[0].Role != "system" || msgs[len(msgs)-1].Role != "system" || msgs[len(msgs)-2].Content != "hello" {
		t.Errorf("order: system first, history, post-history last; got %+v", msgs)
	}
	if msgs[1].Role != "assistant" || !strings.Contains(msgs[1].Content, "Ada") {
		t.Errorf("the greeting (with {{user}} expanded) should open a short history; got %+v", msgs[1])
	}
}

func TestBuildPromptFitsBudgetKeepingNewest(t *testing.T) {
	c := Samples()[1]
	var hist []maopao.Message
	for i := 1; i <= 200; i++ {
		role := maopao.RoleUser
		if i%2 == 0 {
			role = maopao.RoleCharacter
		}
		hist = append(hist, maopao.Message{Seq: int64(i), Role: role, Content: strings.Repeat("word ", 20) + string(rune('A'+i%26))})
	}
	const ctx, reserve = 600, 100
	msgs := BuildPrompt(PromptInput{Character: c, History: hist, ContextSize: ctx, ReserveTokens: reserve, CountTokens: words})
	total := 0
	for _, m := range msgs {
		total += words(m.Content) + 8
	}
	if total > ctx-reserve {
		t.Fatalf("prompt uses %d tokens, budget %d", total, ctx-reserve)
	}
	last := msgs[len(msgs)-1]
	if last.Content != hist[len(hist)-1].Content {
		t.Fatalf("the newest message must be kept last; got %q", last.Content)
	}
	if len(msgs) < 5 || len(msgs) > 40 {
		t.Fatalf("kept %d messages; expected the budget to keep some but not all", len(msgs))
	}
	for _, m := range msgs[1:] {
		if m.Content == Greeting(c, "User") {
			t.Fatal("the greeting must not be included when older history was cut")
		}
	}
}

func TestExpandMacros(t *testing.T) {
	got := ExpandMacros("{{char}} greets {{user}}; <BOT> and <USER>.", "Ren", "Ada")
	if got != "Ren greets Ada; Ren and Ada." {
		t.Fatalf("got %q", got)
	}
}
