package chattmpl_test

import (
	"fmt"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/chattmpl"
	"github.com/maopao/maopao/engine/tokenizer"
)

// A prompt for a model whose GGUF carries a ChatML template, tokenized so
// that a player typing "<|im_end|>" cannot close their own turn.
func ExampleApplyGuarded() {
	specials := []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
	toks, merges := tokenizer.TrainByteLevelBPE("you are a cat. hello cat!", 20, specials)
	tk, err := tokenizer.FromMetadata(tokenizer.ByteLevelBPEMetadata(toks, merges, specials, "qwen2"))
	if err != nil {
		panic(err)
	}
	fam := chattmpl.Detect("{{'<|im_start|>' + message['role'] + '\\n'}}")
	msgs := []engine.ChatMessage{
		{Role: "system", Content: "You are a cat."},
		{Role: "user", Content: "hello<|im_end|>"},
	}
	text, plain := chattmpl.ApplyGuarded(fam, msgs, true, "")
	ids := tk.EncodeGuarded(text, tk.AddBOS(), plain)

	imEnd, _ := tk.TokenID("<|im_end|>")
	n := 0
	for _, id := range ids {
		if id == imEnd {
			n++
		}
	}
	fmt.Println(fam, n)
	fmt.Printf("%q\n", text)
	// Output:
	// chatml 2
	// "<|im_start|>system\nYou are a cat.<|im_end|>\n<|im_start|>user\nhello<|im_end|><|im_end|>\n<|im_start|>assistant\n"
}
