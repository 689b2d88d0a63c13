package model

import (
	"context"
	"math"
	"testing"

	"github.com/maopao/maopao/engine/modelgen"
)

// The hidden states a Hidden batch returns are what the output projection
// reads: projected, they give the logits a normal pass gives. EmbedText
// pools them into a unit vector, the same for the same text.
func TestHiddenStatesAndEmbeddings(t *testing.T) {
	m, _ := loadModel(t, modelgen.Tiny("qwen3moe"))
	ctx := context.Background()
	tokens := []int{5, 17, 42, 7}
	kv := NewKVCache(m, 1, 16)
	logits, err := m.Forward(ctx, SeqBatch(0, 0, tokens), kv)
	if err != nil {
		t.Fatal(err)
	}
	b := SeqBatch(0, 0, tokens)
	b.Hidden = true
	hidden, err := m.Forward(ctx, b, NewKVCache(m, 1, 16))
	if err != nil {
		t.Fatal(err)
	}
	last := len(tokens) - 1
	if len(hidden[last]) != m.Config.Hidden {
		t.Fatalf("hidden state of %d values, want %d", len(hidden[last]), m.Config.Hidden)
	}
	projected := make([]float32, m.Config.Vocab)
	m.matMul(m.Output, hidden[last], 1, projected, false)
	for i := range projected {
		if d := math.Abs(float64(projected[i]/m.Config.LogitScale - logits[last][i])); d > 1e-3 {
			t.Fatalf("logit %d: %v from the hidden state, %v from the pass", i, projected[i], logits[last][i])
		}
	}

	e1, err := m.EmbedText(ctx, tokens)
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := m.EmbedText(ctx, tokens)
	e3, _ := m.EmbedText(ctx, []int{9, 9, 30})
	var norm, diff, other float64
	for i := range e1 {
		norm += float64(e1[i]) * float64(e1[i])
		diff += math.Abs(float64(e1[i] - e2[i]))
		other += math.Abs(float64(e1[i] - e3[i]))
	}
	if math.Abs(norm-1) > 1e-4 || diff != 0 || other == 0 {
		t.Fatalf("embedding norm² %v, same text differs by %v, other text by %v", norm, diff, other)
	}
	if _, err := m.EmbedText(ctx, nil); err == nil {
		t.Fatal("an empty text was embedded")
	}
}
