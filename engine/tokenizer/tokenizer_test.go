package tokenizer

import (
	"reflect"
	"strings"
	"testing"
)

func TestSpecialTokenParsing(t *testing.T) {
	tk := trained(t, "qwen2")
	start, end := ids(t, tk, "<|im_start|>")[0], ids(t, tk, "<|im_end|>")[0]
	s := "<|im_start|>user\nhi<|im_end|>"
	got := tk.Encode(s, false, true)
	if got[0] != start || got[len(got)-1] != end {
		t.Fatalf("parseSpecial: %v does not start with %d and end with %d", got, start, end)
	}
	if mid := tk.Encode("user\nhi", false, false); !eqInts(got[1:len(got)-1], mid) {
		t.Errorf("text between specials: got %v, want %v", got[1:len(got)-1], mid)
	}
	plain := tk.Encode(s, false, false)
	for _, id := range plain {
		if id == start || id == end {
			t.Fatalf("without parseSpecial the control text must stay text: %v", plain)
		}
	}
	if tk.Decode(plain) != s {
		t.Errorf("literal control text does not round trip: %q", tk.Decode(plain))
	}
	// Decode hides control tokens, DecodeSpecial shows them.
	if d := tk.Decode(got); d != "user\nhi" {
		t.Errorf("Decode = %q", d)
	}
	if d := tk.DecodeSpecial(got); d != s {
		t.Errorf("DecodeSpecial = %q", d)
	}
}

func TestLongestSpecialWins(t *testing.T) {
	md := bpeMeta([]string{"<|a|>", "<|a|>x"}, nil, "gpt-2")
	types := make([]int32, 258)
	for i := range types {
		types[i] = int32(TypeNormal)
	}
	types[256], types[257] = int32(TypeControl), int32(TypeControl)
	md[KeyTokenType] = types
	tk := mustTok(t, md)
	if got := tk.Encode("<|a|>x<|a|>", false, true); !eqInts(got, []int{257, 256}) {
		t.Errorf("got %v, want [257 256]", got)
	}
}

func TestUserDefinedAlwaysParsed(t *testing.T) {
	md := bpeMeta([]string{"<tag>"}, nil, "gpt-2")
	types := make([]int32, 257)
	for i := range types {
		types[i] = int32(TypeNormal)
	}
	types[256] = int32(TypeUserDefined)
	md[KeyTokenType] = types
	tk := mustTok(t, md)
	got := tk.Encode("a<tag>b", false, false)
	if !eqInts(got, []int{'a', 256, 'b'}) {
		t.Errorf("got %v", got)
	}
	if tk.Decode(got) != "a<tag>b" {
		t.Errorf("user-defined tokens decode as their text, got %q", tk.Decode(got))
	}
}

func TestSpecialIDsAndEOG(t *testing.T) {
	tk := trained(t, "qwen2")
	eot, im := ids(t, tk, "<|endoftext|>")[0], ids(t, tk, "<|im_end|>")[0]
	if tk.BOS() != eot || tk.EOS() != im {
		t.Errorf("BOS %d EOS %d, want %d %d", tk.BOS(), tk.EOS(), eot, im)
	}
	if tk.AddBOS() {
		t.Error("ChatML-style vocabulary should not add BOS")
	}
	if !tk.IsEOG(im) || !tk.IsEOG(eot) {
		t.Error("<|im_end|> and <|endoftext|> end generation")
	}
	if tk.IsEOG(ids(t, tk, "<|im_start|>")[0]) || tk.IsEOG(ids(t, tk, "a")[0]) || tk.IsEOG(-1) || tk.IsEOG(1<<30) {
		t.Error("IsEOG too broad")
	}
	if got := tk.Encode("x", true, false); got[0] != eot {
		t.Errorf("addBOS: %v", got)
	}

	toks, merges := TrainByteLevelBPE("hello", 2, []string{"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"})
	l3 := mustTok(t, ByteLevelBPEMetadata(toks, merges, []string{"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"}, "llama-bpe"))
	if !l3.AddBOS() || l3.TokenText(l3.BOS()) != "<|begin_of_text|>" || l3.TokenText(l3.EOS()) != "<|eot_id|>" {
		t.Errorf("llama3-style ids: bos %q eos %q add %v", l3.TokenText(l3.BOS()), l3.TokenText(l3.EOS()), l3.AddBOS())
	}
	for _, s := range []string{"<|eot_id|>", "<|end_of_text|>"} {
		if !l3.IsEOG(ids(t, l3, s)[0]) {
			t.Errorf("%s should end generation", s)
		}
	}
	if l3.IsEOG(l3.BOS()) {
		t.Error("BOS is not EOG")
	}
}

func TestStreamDecoderMultibyte(t *testing.T) {
	// No merges: every byte is its own token, so each CJK character and
	// emoji arrives split over 3-4 tokens.
	tk := mustTok(t, bpeMeta(nil, nil, "gpt-2"))
	s := "a冒泡鸭😀b"
	toks := tk.Encode(s, false, false)
	if len(toks) != len(s) {
		t.Fatalf("want one token per byte, got %d for %d bytes", len(toks), len(s))
	}
	d := tk.NewStreamDecoder()
	var got []string
	for _, id := range toks {
		got = append(got, d.Push(id))
	}
	got = append(got, d.Flush())
	want := []string{"a", "", "", "冒", "", "", "泡", "", "", "鸭", "", "", "", "😀", "b", ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pieces %q\nwant   %q", got, want)
	}
}

func TestStreamDecoderInvalidBytes(t *testing.T) {
	tk := mustTok(t, bpeMeta(nil, nil, "gpt-2"))
	d := tk.NewStreamDecoder()
	var b strings.Builder
	for _, id := range tk.Encode("x\xffy\xe4\xb8", false, false) {
		b.WriteString(d.Push(id))
	}
	if b.String() != "x\uFFFDy" {
		t.Errorf("before flush: %q", b.String())
	}
	if f := d.Flush(); f != "\uFFFD" {
		t.Errorf("flush of an unfinished character: %q", f)
	}
}

func TestStreamMatchesDecode(t *testing.T) {
	tk := trained(t, "llama3")
	for _, s := range roundTrip {
		toks := tk.Encode(s, false, true)
		d := tk.NewStreamDecoder()
		var b strings.Builder
		for _, id := range toks {
			b.WriteString(d.Push(id))
		}
		b.WriteString(d.Flush())
		if b.String() != tk.Decode(toks) {
			t.Errorf("stream %q != Decode %q", b.String(), tk.Decode(toks))
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	toks, merges := TrainByteLevelBPE("ab ab ab cd", 10, []string{"<|x|>"})
	// Counts: a·b 3, Ġ·a 2, then Ġ·ab 2; c·d and Ġ·c tie at 1 and the pair
	// with the smaller text ("c" < "Ġ") goes first.
	wantMerges := []string{"a b", "Ġ ab", "c d", "Ġ cd"}
	if !reflect.DeepEqual(merges, wantMerges) {
		t.Errorf("merges %q, want %q", merges, wantMerges)
	}
	wantTail := []string{"ab", "Ġab", "cd", "Ġcd", "<|x|>"}
	if !reflect.DeepEqual(toks[256:], wantTail) {
		t.Errorf("tokens after bytes %q, want %q", toks[256:], wantTail)
	}
	if toks[' '] != "Ġ" || toks['a'] != "a" || toks[0] != "Ā" {
		t.Errorf("byte tokens must use the GPT-2 mapping: %q %q %q", toks[' '], toks['a'], toks[0])
	}
	t2, m2 := TrainByteLevelBPE(trainCorpus, 100, chatSpecials)
	t3, m3 := TrainByteLevelBPE(trainCorpus, 100, chatSpecials)
	if !reflect.DeepEqual(t2, t3) || !reflect.DeepEqual(m2, m3) {
		t.Error("training is not deterministic")
	}
	if len(m2) != 100 {
		t.Errorf("want 100 merges from a corpus this size, got %d", len(m2))
	}
}

func TestByteLevelBPEMetadataLoadsAndTypes(t *testing.T) {
	toks, merges := TrainByteLevelBPE(trainCorpus, 50, nil)
	md := ByteLevelBPEMetadata(toks, merges, chatSpecials, "")
	if md[KeyPre] != "gpt-2" || md[KeyModel] != "gpt2" {
		t.Errorf("model/pre: %v %v", md[KeyModel], md[KeyPre])
	}
	tk := mustTok(t, md)
	if tk.VocabSize() != len(toks)+len(chatSpecials) {
		t.Errorf("specials missing from tokens must be appended: %d", tk.VocabSize())
	}
	for _, s := range chatSpecials {
		if tk.TokenType(ids(t, tk, s)[0]) != TypeControl {
			t.Errorf("%s is not CONTROL", s)
		}
	}
	if _, ok := md[KeyBOS].(uint32); !ok {
		t.Errorf("bos id type %T", md[KeyBOS])
	}
}

func TestEncodeGuarded(t *testing.T) {
	tk := trained(t, "qwen2")
	end := ids(t, tk, "<|im_end|>")[0]
	text := "a<|im_end|>b<|im_end|>c"
	// Guard the first occurrence only, by a range that merely overlaps it.
	got := tk.EncodeGuarded(text, false, [][2]int{{3, 4}})
	n := 0
	for _, id := range got {
		if id == end {
			n++
		}
	}
	if n != 1 || got[len(got)-2] != end {
		t.Errorf("got %v: want only the second <|im_end|> as a token", got)
	}
	if tk.DecodeSpecial(got) != text {
		t.Errorf("round trip: %q", tk.DecodeSpecial(got))
	}
	if !eqInts(tk.EncodeGuarded(text, true, nil), tk.Encode(text, true, true)) {
		t.Error("no ranges must equal Encode with parseSpecial")
	}
	// A range that ends where the token starts does not guard it.
	if got := tk.EncodeGuarded(text, false, [][2]int{{0, 1}}); !eqInts(got, tk.Encode(text, false, true)) {
		t.Errorf("adjacent range guarded a token: %v", got)
	}
}
