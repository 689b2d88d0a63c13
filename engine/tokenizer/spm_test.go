package tokenizer

import (
	"testing"
)

func spmTok(t testing.TB) *Tokenizer {
	pieces := map[string]float32{
		"▁": -1, "h": -2, "e": -2, "l": -2, "o": -2, "i": -2, "w": -2, "r": -2, "d": -2,
		"▁h": -3, "ll": -3, "▁he": -4, "llo": -4, "▁w": -3, "or": -3, "▁wor": -5, "ld": -3, "▁world": -6,
		"</": -1, "s>": -1,
	}
	order := []string{"▁", "h", "e", "l", "o", "i", "w", "r", "d", "▁h", "ll", "▁he", "llo", "▁w", "or", "▁wor", "ld", "▁world", "</", "s>"}
	return mustTok(t, spmMeta(pieces, order))
}

func TestSPMKnownSplits(t *testing.T) {
	tk := spmTok(t)
	cases := []struct {
		in   string
		want []string
	}{
		// ▁h and ll tie at -3: the left pair goes first; then ▁he and llo tie
		// at -4 and neither join is in the vocabulary.
		{"hello", []string{"▁he", "llo"}},
		{"hello world", []string{"▁he", "llo", "▁world"}},
		// é is not in the vocabulary: its UTF-8 bytes become byte tokens.
		{"hé", []string{"▁h", "<0xC3>", "<0xA9>"}},
		// "</" + "s>" would spell the control token </s>; it must stay text.
		{"</s>", []string{"▁", "</", "s>"}},
	}
	for _, c := range cases {
		got := tk.Encode(c.in, false, false)
		if want := ids(t, tk, c.want...); !eqInts(got, want) {
			t.Errorf("Encode(%q) = %v, want %v %q", c.in, got, want, c.want)
		}
	}
	if !tk.AddBOS() || tk.BOS() != 1 || tk.EOS() != 2 || !tk.IsEOG(2) {
		t.Errorf("SentencePiece defaults: addBOS %v bos %d eos %d", tk.AddBOS(), tk.BOS(), tk.EOS())
	}
	if got := tk.Encode("hi", true, false); !eqInts(got, append([]int{1}, ids(t, tk, "▁h", "i")...)) {
		t.Errorf("with BOS: %v", got)
	}
}

func TestSPMSpecialAndSpacePrefix(t *testing.T) {
	tk := spmTok(t)
	// Text after a special token starts a new word, as in llama.cpp.
	got := tk.Encode("hi</s>hi", false, true)
	want := append(append(ids(t, tk, "▁h", "i"), 2), ids(t, tk, "▁h", "i")...)
	if !eqInts(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	if d := tk.DecodeSpecial(got); d != "hi</s>hi" {
		t.Errorf("DecodeSpecial = %q", d)
	}
	md := spmMeta(map[string]float32{"h": -1, "i": -1}, []string{"h", "i"})
	md[KeyAddSpacePrefix] = false
	np := mustTok(t, md)
	if got := np.Encode("hi", false, false); !eqInts(got, ids(t, np, "h", "i")) {
		t.Errorf("add_space_prefix=false: %v", got)
	}
}

func TestRoundTripSPM(t *testing.T) {
	tk := spmTok(t)
	for _, s := range roundTrip {
		for _, bos := range []bool{false, true} {
			if got := tk.Decode(tk.Encode(s, bos, false)); got != s {
				t.Errorf("bos=%v: %q -> %q", bos, s, got)
			}
		}
	}
}

// A generation continues its prompt: the word-start space of its first
// SentencePiece token is text, as llama.cpp's token_to_piece gives it,
// while decoding a whole sequence drops the space Encode added.
func TestContinuationKeepsLeadingSpace(t *testing.T) {
	tk := spmTok(t)
	world := ids(t, tk, "▁world")
	d := tk.NewContinuationDecoder()
	if got := d.Push(world[0]) + d.Flush(); got != " world" {
		t.Errorf("continuation decoder gave %q, want %q", got, " world")
	}
	s := tk.NewStreamDecoder()
	if got := s.Push(world[0]) + s.Flush(); got != "world" {
		t.Errorf("sequence decoder gave %q, want %q", got, "world")
	}
}
