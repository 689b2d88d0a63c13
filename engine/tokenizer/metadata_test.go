package tokenizer

import (
	"strings"
	"testing"
)

func TestFromMetadataErrors(t *testing.T) {
	good := func() map[string]any {
		return bpeMeta([]string{"ab", "<|end|>"}, []string{"a b"}, "gpt-2")
	}
	cases := []struct {
		name   string
		mutate func(md map[string]any)
		key    string
	}{
		{"missing model", func(md map[string]any) { delete(md, KeyModel) }, KeyModel},
		{"model wrong type", func(md map[string]any) { md[KeyModel] = 3 }, KeyModel},
		{"unknown model", func(md map[string]any) { md[KeyModel] = "bert" }, KeyModel},
		{"missing tokens", func(md map[string]any) { delete(md, KeyTokens) }, KeyTokens},
		{"tokens wrong type", func(md map[string]any) { md[KeyTokens] = []int32{1} }, KeyTokens},
		{"empty tokens", func(md map[string]any) { md[KeyTokens] = []string{} }, KeyTokens},
		{"duplicate token", func(md map[string]any) {
			md[KeyTokens] = append(append([]string(nil), md[KeyTokens].([]string)...), "ab")
		}, KeyTokens},
		{"types length", func(md map[string]any) { md[KeyTokenType] = []int32{1, 1} }, KeyTokenType},
		{"types wrong type", func(md map[string]any) { md[KeyTokenType] = "x" }, KeyTokenType},
		{"bad type value", func(md map[string]any) {
			ty := make([]int32, 258)
			ty[5] = 42
			md[KeyTokenType] = ty
		}, KeyTokenType},
		{"scores length", func(md map[string]any) { md[KeyScores] = []float32{0} }, KeyScores},
		{"scores wrong type", func(md map[string]any) { md[KeyScores] = []string{"a"} }, KeyScores},
		{"missing merges", func(md map[string]any) { delete(md, KeyMerges) }, KeyMerges},
		{"merge unknown token", func(md map[string]any) { md[KeyMerges] = []string{"a zz"} }, KeyMerges},
		{"merge without space", func(md map[string]any) { md[KeyMerges] = []string{"ab"} }, KeyMerges},
		{"unknown pre", func(md map[string]any) { md[KeyPre] = "nope" }, KeyPre},
		{"pre wrong type", func(md map[string]any) { md[KeyPre] = []string{"gpt-2"} }, KeyPre},
		{"eos wrong type", func(md map[string]any) { md[KeyEOS] = "2" }, KeyEOS},
		{"add_bos wrong type", func(md map[string]any) { md[KeyAddBOS] = uint8(1) }, KeyAddBOS},
		{"add_bos without bos", func(md map[string]any) { md[KeyAddBOS] = true }, KeyAddBOS},
	}
	for _, c := range cases {
		md := good()
		c.mutate(md)
		_, err := FromMetadata(md)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s: error %q does not name %s", c.name, err, c.key)
		}
	}
	if _, err := FromMetadata(good()); err != nil {
		t.Fatalf("baseline metadata fails: %v", err)
	}
	// Out-of-range special ids are passed over with a warning, as llama.cpp
	// does: files in circulation store "none" as 4294967295.
	md := good()
	base, _ := FromMetadata(good())
	md[KeyPadding] = uint32(4294967295)
	md[KeyBOS] = uint32(9999)
	md["tokenizer.ggml.seperator_token_id"] = uint32(4294967295)
	tk, err := FromMetadata(md)
	if err != nil {
		t.Fatalf("out-of-range special ids: %v", err)
	}
	if w := strings.Join(tk.Warnings(), "\n"); !strings.Contains(w, KeyPadding) || !strings.Contains(w, KeyBOS) {
		t.Errorf("warnings %q should name both keys", w)
	}
	if tk.Padding() != base.Padding() || tk.BOS() != base.BOS() {
		t.Errorf("ignored ids changed the defaults: pad %d bos %d, want %d %d", tk.Padding(), tk.BOS(), base.Padding(), base.BOS())
	}
	if _, err := FromMetadata(nil); err == nil {
		t.Error("nil metadata accepted")
	}
}

func TestFromMetadataAcceptsIntegerKinds(t *testing.T) {
	for _, v := range []any{uint32(257), int32(257), uint64(257), int64(257), int(257), uint8(200)} {
		md := bpeMeta([]string{"ab", "<|end|>"}, []string{"a b"}, "gpt-2")
		md[KeyEOS] = v
		tk, err := FromMetadata(md)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		want, _ := asInt64(v)
		if int64(tk.EOS()) != want {
			t.Errorf("%T: eos %d", v, tk.EOS())
		}
	}
	md := bpeMeta(nil, nil, "gpt-2")
	md[KeyTokenType] = []uint32(make([]uint32, 256))
	md[KeyScores] = []float64(make([]float64, 256))
	if _, err := FromMetadata(md); err != nil {
		t.Errorf("uint32 types / float64 scores: %v", err)
	}
}
