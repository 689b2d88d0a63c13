package characters

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/engine"
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

func ptr[T any](v T) *T { return &v }

func loreChar() maopao.Character {
	c := Samples()[0]
	c.CharacterBook = &maopao.Lorebook{ScanDepth: ptr(4), Entries: []maopao.LoreEntry{
		{Keys: []string{"rain"}, Content: "LORE-BEFORE: the town floods when it rains.", Enabled: true, InsertionOrder: 1, Position: "before_char"},
		{Content: "LORE-AFTER: {{char}} owes {{user}} a favour.", Enabled: true, InsertionOrder: 2, Position: "after_char", Constant: ptr(true)},
		{Keys: []string{"oolong"}, Content: "@@depth 1\n@@role system\nLORE-DEPTH: the oolong is from {{random:Fujian,Taiwan}}.", Enabled: true, InsertionOrder: 3},
		{Keys: []string{"dragon"}, Content: "LORE-NEVER", Enabled: true},
		{Keys: []string{"tea"}, Content: "@@position personality\nLORE-PERSONALITY: brews tea at dawn.", Enabled: true, InsertionOrder: 4},
	}}
	return c
}

func joined(msgs []engine.ChatMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Role + ":" + m.Content + "\n")
	}
	return b.String()
}

func TestBuildPromptPlacesLore(t *testing.T) {
	c := loreChar()
	hist := []maopao.Message{
		{Seq: 1, Role: maopao.RoleUser, Content: "such heavy rain tonight"},
		{Seq: 2, Role: maopao.RoleCharacter, Content: "Come in, then."},
		{Seq: 3, Role: maopao.RoleUser, Content: "One oolong, and some tea talk please"},
	}
	msgs, rep := BuildPromptReport(PromptInput{Character: c, UserName: "Ada", History: hist, ContextSize: 4096, ReserveTokens: 256, CountTokens: words})
	sys := msgs[0].Content
	iBefore, iDesc := strings.Index(sys, "LORE-BEFORE"), strings.Index(sys, c.Description)
	iPers, iLorePers := strings.Index(sys, "Personality:"), strings.Index(sys, "LORE-PERSONALITY")
	iScen, iAfter := strings.Index(sys, "Scenario:"), strings.Index(sys, "LORE-AFTER: Lin Xiaoyu owes Ada a favour.")
	if iBefore < 0 || iDesc < 0 || iBefore > iDesc {
		t.Errorf("before_char lore must precede the description:\n%s", sys)
	}
	if iLorePers < iPers || iLorePers > iScen {
		t.Errorf("personality lore must sit in the personality section:\n%s", sys)
	}
	if iAfter < iScen {
		t.Errorf("after_char lore (macros expanded) must follow the definition:\n%s", sys)
	}
	if strings.Contains(joined(msgs), "LORE-NEVER") || strings.Contains(joined(msgs), "@@") {
		t.Errorf("an unfired entry or a decorator reached the prompt:\n%s", joined(msgs))
	}
	// @@depth 1: one message from the end, as a system message.
	n := len(msgs)
	if d := msgs[n-2]; d.Role != "system" || !strings.HasPrefix(d.Content, "LORE-DEPTH: the oolong is from ") {
		t.Errorf("depth lore should sit right before the newest message; got %+v", msgs)
	}
	if msgs[n-1].Content != hist[2].Content || msgs[n-3].Content != hist[1].Content {
		t.Errorf("history order broken around depth lore: %+v", msgs)
	}
	var fired []string
	for _, a := range rep.Entries {
		fired = append(fired, fmt.Sprintf("%d:%s", a.Index, a.Reason))
	}
	want := []string{`0:key "rain" in chat[1]`, "1:constant", `2:key "oolong" in chat[3]`, `4:key "tea" in chat[3]`}
	if len(fired) != len(want) {
		t.Fatalf("report %v, want %v", fired, want)
	}
	for i := range want {
		if !strings.HasPrefix(fired[i], want[i]) {
			t.Errorf("report %v, want %v", fired, want)
		}
	}
	// The greeting opens a history that starts at Seq 1, and was scanned.
	if msgs[1].Role != "assistant" || !strings.Contains(msgs[1].Content, "Ada") {
		t.Errorf("greeting missing: %+v", msgs[1])
	}
}

func TestBuildPromptDepthEdges(t *testing.T) {
	c := Samples()[1]
	c.PostHistoryInstructions = "POST"
	c.CharacterBook = &maopao.Lorebook{Entries: []maopao.LoreEntry{
		{Content: "@@depth 0\nDEPTH-0", Enabled: true, Constant: ptr(true)},
		{Content: "@@depth 99\n@@role user\nDEPTH-99", Enabled: true, Constant: ptr(true)},
		{Content: "@@depth 99\n@@role user\nDEPTH-99b", Enabled: true, Constant: ptr(true), InsertionOrder: 5},
	}}
	hist := []maopao.Message{{Seq: 7, Role: maopao.RoleUser, Content: "a"}, {Seq: 8, Role: maopao.RoleCharacter, Content: "b"}, {Seq: 9, Role: maopao.RoleUser, Content: "c"}}
	msgs := BuildPrompt(PromptInput{Character: c, History: hist, ContextSize: 4096, CountTokens: words})
	var got []string
	for _, m := range msgs[1:] {
		got = append(got, m.Role+":"+m.Content)
	}
	want := []string{"user:DEPTH-99\nDEPTH-99b", "user:a", "assistant:b", "user:c", "system:DEPTH-0", "system:POST"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestBuildPromptExamplesAndBudget(t *testing.T) {
	c := loreChar()
	c.MesExample = "<START>\n{{user}}: first?\n{{char}}: one.\n<START>\n{{user}}: second?\n{{char}}: " + strings.Repeat("two ", 300) + "\n<start>\n{{user}}: third?\n{{char}}: three."
	short := []maopao.Message{{Seq: 1, Role: maopao.RoleUser, Content: "hi"}}
	msgs := BuildPrompt(PromptInput{Character: c, UserName: "Ada", History: short, ContextSize: 4096, CountTokens: words})
	sys := msgs[0].Content
	for i, want := range []string{"[Example 1]\nAda: first?\nLin Xiaoyu: one.", "[Example 2]\nAda: second?", "[Example 3]\nAda: third?"} {
		if !strings.Contains(sys, want) {
			t.Errorf("example %d missing (%q):\n%s", i+1, want, sys)
		}
	}
	if strings.Contains(sys, "<START>") || strings.Contains(sys, "<start>") {
		t.Error("<START> markers reached the prompt")
	}

	// A long chat under a tight budget: lore and examples are placed before
	// older history; the long second example is dropped; all fits.
	var hist []maopao.Message
	for i := 1; i <= 120; i++ {
		role := maopao.RoleUser
		if i%2 == 0 {
			role = maopao.RoleCharacter
		}
		hist = append(hist, maopao.Message{Seq: int64(i), Role: role, Content: fmt.Sprintf("message %d %s", i, strings.Repeat("word ", 15))})
	}
	hist[119].Content = "tell me about the oolong " + hist[119].Content
	const ctx, reserve = 520, 100
	base := len(strings.Fields(BuildPrompt(PromptInput{Character: Samples()[0], UserName: "Ada", ContextSize: 100000, CountTokens: words})[0].Content))
	msgs, rep := BuildPromptReport(PromptInput{Character: c, UserName: "Ada", History: hist, ContextSize: ctx, ReserveTokens: reserve, CountTokens: words})
	total := 0
	for _, m := range msgs {
		total += words(m.Content) + 8
	}
	if total > ctx-reserve {
		t.Fatalf("prompt uses %d tokens, budget %d (system alone %d)", total, ctx-reserve, base)
	}
	all := joined(msgs)
	for _, want := range []string{"LORE-AFTER", "LORE-DEPTH", "[Example 1]\nAda: first?", "[Example 2]\nAda: third?", hist[119].Content, hist[117].Content} {
		if !strings.Contains(all, want) {
			t.Errorf("tight prompt lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "two two two two") {
		t.Error("the long example should have been dropped under the tight budget")
	}
	if strings.Contains(all, hist[0].Content) {
		t.Error("the oldest history should have been trimmed")
	}
	if len(rep.Entries) == 0 {
		t.Error("report lists no entries")
	}
}

func TestBuildPromptLoreBudgetDropsLowPriority(t *testing.T) {
	c := Samples()[2]
	big := strings.Repeat("fact ", 100)
	c.CharacterBook = &maopao.Lorebook{Entries: []maopao.LoreEntry{
		{Keys: []string{"zero"}, Content: "HIGH " + big, Enabled: true, Priority: ptr(10)},
		{Keys: []string{"zero"}, Content: "LOW " + big, Enabled: true, Priority: ptr(1)},
	}}
	hist := []maopao.Message{{Seq: 5, Role: maopao.RoleUser, Content: "divide by zero?"}}
	msgs, rep := BuildPromptReport(PromptInput{Character: c, History: hist, ContextSize: 300, ReserveTokens: 50, CountTokens: words})
	all := joined(msgs)
	if !strings.Contains(all, "HIGH fact") || strings.Contains(all, "LOW fact") {
		t.Fatalf("want the high-priority entry only:\n%s", all)
	}
	if len(rep.Dropped) != 1 || rep.Dropped[0].Index != 1 {
		t.Fatalf("dropped %+v", rep.Dropped)
	}
	if msgs[len(msgs)-1].Content != "divide by zero?" {
		t.Fatal("the newest message must stay")
	}
}

func TestBuildPromptOriginalAndNickname(t *testing.T) {
	c := Samples()[0]
	c.Nickname = "Xiaoyu"
	c.SystemPrompt = "HOUSE RULES. {{original}}"
	c.PostHistoryInstructions = "{{original}}Stay brief, {{char}}."
	msgs := BuildPrompt(PromptInput{Character: c, UserName: "Ada", History: []maopao.Message{{Seq: 1, Role: maopao.RoleUser, Content: "hi"}}})
	if !strings.HasPrefix(msgs[0].Content, "HOUSE RULES. You are Xiaoyu. Stay in character and reply to Ada") {
		t.Errorf("system prompt: %q", msgs[0].Content)
	}
	if last := msgs[len(msgs)-1]; last.Content != "Stay brief, Xiaoyu." {
		t.Errorf("post-history: %q", last.Content)
	}
}

func TestBuildPromptReplayable(t *testing.T) {
	c := Samples()[0]
	c.Description += " Today's special: {{random:a,b,c,d,e,f,g,h}}. House blend: {{pick:p,q,r,s,t,u,v,w}}."
	in := PromptInput{Character: c, UserName: "Ada", Seed: 99, MessageCount: 10,
		History: []maopao.Message{{Seq: 10, Role: maopao.RoleUser, Content: "hi"}}}
	first := joined(BuildPrompt(in))
	if again := joined(BuildPrompt(in)); again != first {
		t.Fatal("same input, different prompt")
	}
	special := func(s string) string { i := strings.Index(s, "special: "); return s[i : i+10] }
	blend := func(s string) string { i := strings.Index(s, "blend: "); return s[i : i+8] }
	specials := map[string]bool{}
	for n := 11; n < 40; n++ {
		in.MessageCount = n
		p := joined(BuildPrompt(in))
		if blend(p) != blend(first) {
			t.Fatalf("{{pick}} changed between turns: %q vs %q", blend(first), blend(p))
		}
		specials[special(p)] = true
	}
	if len(specials) < 2 {
		t.Fatalf("{{random}} never changed across turns: %v", specials)
	}
}
