package tokenizer

import (
	"fmt"
	"strings"
	"testing"
)

// reservedVocab mimics the bundled model: a trained vocabulary padded with
// thousands of reserved control tokens.
func reservedVocab(b testing.TB, pre string) *Tokenizer {
	toks, merges := TrainByteLevelBPE(trainCorpus, 300, chatSpecials)
	specials := append([]string(nil), chatSpecials...)
	for i := 0; i < 7500; i++ {
		specials = append(specials, fmt.Sprintf("<|reserved_%d|>", i))
	}
	return mustTok(b, ByteLevelBPEMetadata(toks, merges, specials, pre))
}

func BenchmarkEncodePrompt(b *testing.B) {
	for _, pre := range []string{"gpt-2", "llama3", "qwen2"} {
		tk := reservedVocab(b, pre)
		text := "<|im_start|>system\n" + strings.Repeat(trainCorpus+"\n", 4) + "<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
		b.Run(pre, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				tk.Encode(text, false, true)
			}
		})
	}
}

func BenchmarkTrain(b *testing.B) {
	corpus := strings.Repeat(trainCorpus, 50)
	for i := 0; i < 200; i++ {
		corpus += fmt.Sprintf(" word%dx%d", i, i*7919)
	}
	for i := 0; i < b.N; i++ {
		TrainByteLevelBPE(corpus, 8000, chatSpecials)
	}
}
