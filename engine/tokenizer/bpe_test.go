package tokenizer

import (
	"strings"
	"sync"
	"testing"
)

func TestBPEKnownSplits(t *testing.T) {
	tk := mustTok(t, bpeMeta(
		[]string{"he", "hel", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld"},
		[]string{"h e", "he l", "hel l", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"}, "gpt-2"))
	cases := []struct {
		in   string
		want []string
	}{
		{"hello", []string{"hello"}},
		{"help", []string{"hel", "p"}},
		{"hello world", []string{"hello", "Ġworld"}},
		{"world", []string{"w", "or", "ld"}},
		{"hhe", []string{"h", "he"}},
	}
	for _, c := range cases {
		got := tk.Encode(c.in, false, false)
		if want := ids(t, tk, c.want...); !eqInts(got, want) {
			t.Errorf("Encode(%q) = %v, want %v %v", c.in, got, want, c.want)
		}
	}
}

func TestBPEMergeRankOrder(t *testing.T) {
	// "abc": whichever merge has the lower rank applies first, whatever its
	// position in the word.
	bcFirst := mustTok(t, bpeMeta([]string{"ab", "bc"}, []string{"b c", "a b"}, "gpt-2"))
	if got, want := bcFirst.Encode("abc", false, false), ids(t, bcFirst, "a", "bc"); !eqInts(got, want) {
		t.Errorf("b c ranked first: got %v want %v", got, want)
	}
	abFirst := mustTok(t, bpeMeta([]string{"ab", "bc"}, []string{"a b", "b c"}, "gpt-2"))
	if got, want := abFirst.Encode("abc", false, false), ids(t, abFirst, "ab", "c"); !eqInts(got, want) {
		t.Errorf("a b ranked first: got %v want %v", got, want)
	}
	// Equal ranks go left to right.
	aa := mustTok(t, bpeMeta([]string{"aa"}, []string{"a a"}, "gpt-2"))
	if got, want := aa.Encode("aaa", false, false), ids(t, aa, "aa", "a"); !eqInts(got, want) {
		t.Errorf("aaa: got %v want %v", got, want)
	}
	if got, want := aa.Encode("aaaa", false, false), ids(t, aa, "aa", "aa"); !eqInts(got, want) {
		t.Errorf("aaaa: got %v want %v", got, want)
	}
}

func TestBPEMergeResultOutsideVocab(t *testing.T) {
	// "x y" produces "xy", which is not a token: the symbol falls back to its
	// bytes, and a later merge cannot use it.
	tk := mustTok(t, bpeMeta(nil, []string{"x y"}, "gpt-2"))
	if got, want := tk.Encode("xy", false, false), ids(t, tk, "x", "y"); !eqInts(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
}

func TestLlama3IgnoreMerges(t *testing.T) {
	// With the llama3 pre-tokenizer a word that is a token is used whole even
	// when the merges would never build it.
	md := bpeMeta([]string{"ab", "abc"}, []string{"a b"}, "llama-bpe")
	md[KeyAddBOS] = false
	tk := mustTok(t, md)
	if got, want := tk.Encode("abc", false, false), ids(t, tk, "abc"); !eqInts(got, want) {
		t.Errorf("llama3: got %v want %v", got, want)
	}
	md[KeyPre] = "gpt-2"
	tk = mustTok(t, md)
	if got, want := tk.Encode("abc", false, false), ids(t, tk, "ab", "c"); !eqInts(got, want) {
		t.Errorf("gpt-2: got %v want %v", got, want)
	}
}

var roundTrip = []string{
	"",
	"hello world",
	"The quick brown fox, isn't it? 12345!",
	"冒泡鸭",
	"冒泡鸭说：你好，世界！",
	"😀🦆👩‍👩‍👧 emoji",
	"   leading and trailing   ",
	"\n\n\nnewlines\r\n\tand tabs\t\t",
	"naïve café ÉTÉ",
	"<|im_start|>user\nhi<|im_end|>",
	"\x00\x01 control bytes \x7f",
	strings.Repeat("a", 500),
	strings.Repeat(" ", 300) + "x",
}

func TestRoundTripBPE(t *testing.T) {
	for _, pre := range []string{"gpt-2", "default", "llama3", "qwen2", "olmo", "dbrx", "smaug-bpe"} {
		tk := trained(t, pre)
		for _, s := range roundTrip {
			for _, special := range []bool{false, true} {
				got := tk.Decode(tk.Encode(s, false, special))
				if special {
					got = tk.DecodeSpecial(tk.Encode(s, false, special))
				}
				if got != s {
					t.Errorf("%s special=%v: round trip %q -> %q", pre, special, s, got)
				}
			}
		}
	}
}

func TestInvalidUTF8SurvivesByteLevel(t *testing.T) {
	tk := trained(t, "qwen2")
	s := "ok \xff\xfe broken \xe4\xb8 end"
	if got := tk.Decode(tk.Encode(s, false, false)); got != s {
		t.Errorf("round trip %q -> %q", s, got)
	}
}

func TestTrainedVocabularyCompresses(t *testing.T) {
	tk := trained(t, "qwen2")
	s := "the tavern door"
	if n := len(tk.Encode(s, false, false)); n >= len(s) {
		t.Errorf("%q took %d tokens; the trained merges should shorten it", s, n)
	}
}

func TestConcurrentEncode(t *testing.T) {
	tk := trained(t, "llama3")
	want := tk.Encode(trainCorpus, false, true)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if got := tk.Encode(trainCorpus, false, true); !eqInts(got, want) {
					t.Error("concurrent Encode differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}
