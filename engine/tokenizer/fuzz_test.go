package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzEncodeDecode(f *testing.F) {
	for _, s := range roundTrip {
		f.Add(s, true)
	}
	f.Add("I'm 12345 fine\n\nok", false)
	f.Add("x\xff\xfe", true)
	toks := []*Tokenizer{trained(f, "qwen2"), trained(f, "llama3"), trained(f, "default"), trained(f, "gpt-2"), spmTok(f)}
	f.Fuzz(func(t *testing.T, s string, special bool) {
		for i, tk := range toks {
			got := tk.Encode(s, false, special)
			for _, id := range got {
				if id < 0 || id >= tk.VocabSize() {
					t.Fatalf("tokenizer %d: id %d out of range", i, id)
				}
			}
			dec := tk.Decode(got)
			if special {
				dec = tk.DecodeSpecial(got)
			}
			byteLevel := tk.kind == kindBPE
			// Byte-level BPE keeps any bytes; SentencePiece keeps valid UTF-8.
			if (byteLevel || utf8.ValidString(s)) && dec != s {
				t.Fatalf("tokenizer %d: round trip %q -> %q", i, s, dec)
			}
			g := tk.EncodeGuarded(s, false, [][2]int{{len(s) / 3, 2 * len(s) / 3}})
			for _, id := range g {
				if id < 0 || id >= tk.VocabSize() {
					t.Fatalf("tokenizer %d: guarded id %d out of range", i, id)
				}
			}
			if byteLevel && tk.DecodeSpecial(g) != s {
				t.Fatalf("tokenizer %d: guarded round trip %q -> %q", i, s, tk.DecodeSpecial(g))
			}
			d := tk.NewStreamDecoder()
			var b strings.Builder
			for _, id := range got {
				b.WriteString(d.Push(id))
			}
			b.WriteString(d.Flush())
			if !utf8.ValidString(b.String()) {
				t.Fatalf("tokenizer %d: stream produced invalid UTF-8", i)
			}
			if utf8.ValidString(dec) && !special && b.String() != dec {
				t.Fatalf("tokenizer %d: stream %q != decode %q", i, b.String(), dec)
			}
		}
	})
}

// FuzzFromMetadata builds metadata from fuzz input: tokens and merges split
// on '|', pre and model names, and token types from bytes. Loading must
// either fail with an error or give a tokenizer that encodes without panics.
func FuzzFromMetadata(f *testing.F) {
	f.Add("gpt2", "gpt-2", "a|b|ab|<|x|>", "a b", []byte{1, 1, 1, 3}, int64(3), "ab<|x|>")
	f.Add("llama", "", "<unk>|<s>|</s>|▁|a|▁a", "", []byte{2, 3, 3, 1, 1, 1}, int64(1), "a a")
	f.Add("gpt2", "llama3", "Ā|a", "a a|Ā a", []byte{1, 9}, int64(-1), "aa")
	f.Add("gpt2", "qwen2", "", "", []byte{}, int64(0), "")
	f.Fuzz(func(t *testing.T, model, pre, tokens, merges string, types []byte, bos int64, text string) {
		md := map[string]any{
			KeyModel:  model,
			KeyPre:    pre,
			KeyTokens: strings.Split(tokens, "|"),
		}
		if merges != "" {
			md[KeyMerges] = strings.Split(merges, "|")
		}
		if len(types) > 0 {
			ty := make([]int32, len(types))
			sc := make([]float32, len(types))
			for i, b := range types {
				ty[i] = int32(b % 8)
				sc[i] = -float32(b)
			}
			md[KeyTokenType] = ty
			md[KeyScores] = sc
		}
		if bos >= 0 {
			md[KeyBOS] = uint64(bos)
			md[KeyAddBOS] = bos%2 == 0
		}
		tk, err := FromMetadata(md)
		if err != nil {
			return
		}
		for _, special := range []bool{false, true} {
			got := tk.Encode(text, true, special)
			for _, id := range got {
				if id < 0 || id >= tk.VocabSize() {
					t.Fatalf("id %d out of range", id)
				}
			}
			_ = tk.Decode(got)
			_ = tk.DecodeSpecial(append(got, -5, 1<<30))
		}
	})
}
