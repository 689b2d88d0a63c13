package tokenizer

import (
	"reflect"
	"strings"
	"testing"
)

func TestPreTokenizerSplits(t *testing.T) {
	cases := []struct {
		pre, in string
		want    []string
	}{
		// Contractions, digits in groups of up to three, newline runs.
		{"llama3", "I'm 12345 fine\n\nok", []string{"I", "'m", " ", "123", "45", " fine", "\n\n", "ok"}},
		{"llama3", "Hello,  world!!\n", []string{"Hello", ",", " ", " world", "!!\n"}},
		{"llama3", "DON'T we'LL", []string{"DON", "'T", " we", "'LL"}},
		{"llama3", "x\n  y", []string{"x", "\n", " ", " y"}},
		{"llama3", "x  \n\ny", []string{"x", "  \n\n", "y"}},
		{"llama3", "1234567", []string{"123", "456", "7"}},
		{"llama3", "$100", []string{"$", "100"}},
		// Qwen2 cuts every digit alone.
		{"qwen2", "I'm 12345 fine\n\nok", []string{"I", "'m", " ", "1", "2", "3", "4", "5", " fine", "\n\n", "ok"}},
		{"qwen2", "冒泡鸭说：你好", []string{"冒泡鸭说", "：你好"}},
		// GPT-2: lower-case contractions only, digits in one run, a space
		// before a word stays with the word.
		{"gpt-2", "I'm 12345 fine\n\nok", []string{"I", "'m", " 12345", " fine", "\n", "\n", "ok"}},
		{"gpt-2", "DON'T", []string{"DON", "'", "T"}},
		{"gpt-2", "a   b", []string{"a", "  ", " b"}},
		{"olmo", "it's", []string{"it", "'s"}},
		// Default: punctuation first, then the GPT-2 expression, then digit runs
		// cut into threes.
		{"default", "Hello, world! 123456", []string{"Hello", ",", " world", "!", " ", "123", "456"}},
	}
	for _, c := range cases {
		f, err := lookupPre(c.pre)
		if err != nil {
			t.Fatal(err)
		}
		got := f.split(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s split(%q) = %q, want %q", c.pre, c.in, got, c.want)
		}
		if strings.Join(got, "") != c.in {
			t.Errorf("%s split(%q) loses text", c.pre, c.in)
		}
	}
}

func TestUnknownPreTokenizer(t *testing.T) {
	md := bpeMeta(nil, nil, "no-such-pre")
	_, err := FromMetadata(md)
	if err == nil || !strings.Contains(err.Error(), KeyPre) || !strings.Contains(err.Error(), "no-such-pre") {
		t.Fatalf("want error naming %s and the value, got %v", KeyPre, err)
	}
}
