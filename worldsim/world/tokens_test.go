package world

import (
	"strings"
	"testing"

	"github.com/maopao/maopao/engine"
)

// World prompts fit the context as the state's tokenizer counts them:
// with a tokenizer that counts every byte a token, far fewer lines fit
// than the bytes/4 estimate lets in.
func TestPromptsCountWithTheTokenizer(t *testing.T) {
	var lines []Line
	for i := range 40 {
		l := Line{ID: string(rune('a' + i%26)), From: "p1", FromName: "Ada", FromKind: KindPlayer, Text: strings.Repeat("word ", 10)}
		if i%2 == 1 {
			l.From, l.FromName, l.FromKind = "x", "Xiaoyu", KindCharacter // the speaker's own lines alternate
		}
		lines = append(lines, l)
	}
	system := engine.ChatMessage{Role: "system", Content: "You are Xiaoyu."}
	byteCount := func(s string) int { return len(s) }
	total := func(msgs []engine.ChatMessage, count func(string) int) int {
		n := 0
		for _, m := range msgs {
			n += count(m.Content) + framing
		}
		return n
	}
	exact := fitHistory(system, lines, "x", "(your turn)", nil, 400, byteCount)
	if got := total(exact, byteCount); got > 400 {
		t.Fatalf("the prompt counts %d tokens with the tokenizer, over the budget of 400", got)
	}
	estimated := fitHistory(system, lines, "x", "(your turn)", nil, 400, tokensOf)
	if total(estimated, byteCount) <= 400 {
		t.Fatal("the estimate would have fitted too: the test shows nothing")
	}
	var s State
	if s.tokens("12345678") != tokensOf("12345678") {
		t.Error("without a tokenizer the state estimates")
	}
	s.CountTokens = byteCount
	if s.tokens("12345678") != 8 {
		t.Error("the state does not use its tokenizer")
	}
}
