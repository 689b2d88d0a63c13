package chattmpl

import (
	"reflect"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine"
)

var convo = []engine.ChatMessage{
	{Role: "system", Content: "You are Mao."},
	{Role: "user", Content: "Hi!"},
	{Role: "assistant", Content: "Hello."},
	{Role: "user", Content: "Who are you?"},
}

func TestApplyFamilies(t *testing.T) {
	cases := []struct {
		f    Family
		bos  string
		want string
	}{
		{ChatML, "", "<|im_start|>system\nYou are Mao.<|im_end|>\n" +
			"<|im_start|>user\nHi!<|im_end|>\n" +
			"<|im_start|>assistant\nHello.<|im_end|>\n" +
			"<|im_start|>user\nWho are you?<|im_end|>\n" +
			"<|im_start|>assistant\n"},
		{Llama3, "<|begin_of_text|>", "<|begin_of_text|>" +
			"<|start_header_id|>system<|end_header_id|>\n\nYou are Mao.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nWho are you?<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n"},
		{Mistral, "<s>", "<s>[INST] You are Mao.\n\nHi! [/INST] Hello.</s>[INST] Who are you? [/INST]"},
		{Qwen3, "<|endoftext|>", "<|im_start|>system\nYou are Mao.<|im_end|>\n" +
			"<|im_start|>user\nHi!<|im_end|>\n" +
			"<|im_start|>assistant\nHello.<|im_end|>\n" +
			"<|im_start|>user\nWho are you?<|im_end|>\n" +
			"<|im_start|>assistant\n<think>\n\n</think>\n\n"},
		{Granite, "", "<|start_of_role|>system<|end_of_role|>You are Mao.<|end_of_text|>\n" +
			"<|start_of_role|>user<|end_of_role|>Hi!<|end_of_text|>\n" +
			"<|start_of_role|>assistant<|end_of_role|>Hello.<|end_of_text|>\n" +
			"<|start_of_role|>user<|end_of_role|>Who are you?<|end_of_text|>\n" +
			"<|start_of_role|>assistant<|end_of_role|>"},
		{Phi3, "<s>", "<|system|>\nYou are Mao.<|end|>\n" +
			"<|user|>\nHi!<|end|>\n" +
			"<|assistant|>\nHello.<|end|>\n" +
			"<|user|>\nWho are you?<|end|>\n" +
			"<|assistant|>\n"},
		{OLMoE, "<|endoftext|>", "<|endoftext|><|system|>\nYou are Mao.\n" +
			"<|user|>\nHi!\n" +
			"<|assistant|>\nHello.<|endoftext|>\n" +
			"<|user|>\nWho are you?\n" +
			"<|assistant|>\n"},
	}
	for _, c := range cases {
		if got := Apply(c.f, convo, true, c.bos); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.f, got, c.want)
		}
	}
}

func TestApplyWithoutGenerationPrompt(t *testing.T) {
	msgs := convo[:3]
	if got, want := Apply(ChatML, msgs, false, ""), "<|im_start|>system\nYou are Mao.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"; got != want {
		t.Errorf("chatml: %q", got)
	}
	// The last assistant turn has no newline after its end token.
	if got, want := Apply(OLMoE, msgs, false, ""), "<|system|>\nYou are Mao.\n<|user|>\nHi!\n<|assistant|>\nHello.<|endoftext|>"; got != want {
		t.Errorf("olmoe: %q", got)
	}
	if got, want := Apply(Llama3, []engine.ChatMessage{{Role: "user", Content: "  padded \n"}}, false, ""),
		"<|start_header_id|>user<|end_header_id|>\n\npadded<|eot_id|>"; got != want {
		t.Errorf("llama3 trims content: %q", got)
	}
}

func TestQwen3DropsEarlierReasoning(t *testing.T) {
	msgs := []engine.ChatMessage{
		{Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "<think>\nplan\n</think>\n\nHello."},
		{Role: "user", Content: "Bye"},
	}
	want := "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
	if got := Apply(Qwen3, msgs, false, ""); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestMistralSystemHandling(t *testing.T) {
	cases := []struct {
		msgs []engine.ChatMessage
		want string
	}{
		{[]engine.ChatMessage{{Role: "user", Content: "Hi"}}, "[INST] Hi [/INST]"},
		{[]engine.ChatMessage{{Role: "system", Content: "S"}}, "[INST] S\n\n [/INST]"},
		{[]engine.ChatMessage{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "system", Content: "S2"}, {Role: "user", Content: "c"}},
			"[INST] a [/INST] b</s>[INST] S2\n\nc [/INST]"},
	}
	for _, c := range cases {
		if got := Apply(Mistral, c.msgs, true, ""); got != c.want {
			t.Errorf("got %q want %q", got, c.want)
		}
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		tmpl string
		want Family
	}{
		{"", ChatML},
		{"{% for message in messages %}{{ message.content }}{% endfor %}", ChatML},
		{`{%- for message in messages %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}`, ChatML},
		{`{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}`, Llama3},
		{`{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}`, Mistral},
		// Qwen3: ChatML markers plus the thinking switch.
		{`{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n</think>\n\n' }}{%- endif %}{%- endif %}`, Qwen3},
		// Phi-3.5: <|user|> like Tulu, but turns end with <|end|>.
		{`{% for message in messages %}{% if message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}`, Phi3},
		{`{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n'  + message['content'] + eos_token }}{% endif %}{% endfor %}`, OLMoE},
	}
	for i, c := range cases {
		if got := Detect(c.tmpl); got != c.want {
			t.Errorf("case %d: Detect = %q, want %q", i, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	for name, want := range map[string]Family{"chatml": ChatML, "qwen2": ChatML, "Qwen3": Qwen3, "llama3": Llama3, "mixtral": Mistral, " olmoe ": OLMoE, "phi-3": Phi3, "granitemoe": Granite} {
		got, err := Parse(name)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v", name, got, err)
		}
	}
	_, err := Parse("vicuna")
	if err == nil || !strings.Contains(err.Error(), "chatml") || !strings.Contains(err.Error(), "vicuna") {
		t.Errorf("error should name the input and list valid names: %v", err)
	}
	for _, f := range Families() {
		if got, err := Parse(string(f)); err != nil || got != f {
			t.Errorf("family %q does not parse as itself", f)
		}
	}
}

func TestStopStrings(t *testing.T) {
	want := map[Family]string{ChatML: "<|im_end|>", Qwen3: "<|im_end|>", Llama3: "<|eot_id|>", Mistral: "</s>", OLMoE: "<|endoftext|>", Phi3: "<|end|>", Granite: "<|end_of_text|>"}
	for f, first := range want {
		s := StopStrings(f)
		if len(s) == 0 || s[0] != first {
			t.Errorf("%s: %q", f, s)
		}
	}
	if !reflect.DeepEqual(StopStrings("unknown"), StopStrings(ChatML)) {
		t.Error("unknown family should fall back to ChatML")
	}
}
