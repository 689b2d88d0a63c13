// Package chattmpl owns turning chat messages into the prompt text a model
// was trained on: running the model's own Jinja template
// (tokenizer.chat_template, see Template), the hand-written formats of the
// families we know (ChatML, Qwen3, Llama 3, Mistral/Mixtral [INST],
// Tulu/OLMoE, Phi-3, Granite) that serve when a template cannot run,
// recognising the family from a template, and the stop strings that end an
// assistant turn. Either way it says where each message's text lies in the
// prompt, so control-token text a player types stays text.
package chattmpl

import (
	"fmt"
	"sort"
	"strings"

	"github.com/maopao/maopao/engine"
)

// Family is a chat prompt format.
type Family string

// Supported families.
const (
	ChatML  Family = "chatml"  // Qwen2 and the fallback
	Qwen3   Family = "qwen3"   // ChatML with Qwen3's thinking block, run in non-thinking mode
	Llama3  Family = "llama3"  // <|start_header_id|>role<|end_header_id|>
	Mistral Family = "mistral" // Mistral/Mixtral [INST] ... [/INST]
	OLMoE   Family = "olmoe"   // Tulu-style <|user|> / <|assistant|>
	Phi3    Family = "phi3"    // <|user|> ... <|end|> (Phi-3.5-MoE)
	Granite Family = "granite" // <|start_of_role|>role<|end_of_role|> (Granite 3 MoE)
)

// Families lists the supported families.
func Families() []Family { return []Family{ChatML, Qwen3, Llama3, Mistral, OLMoE, Phi3, Granite} }

var aliases = map[string]Family{
	"chatml": ChatML, "qwen": ChatML, "qwen2": ChatML, "qwen2moe": ChatML,
	"qwen3": Qwen3, "qwen3moe": Qwen3,
	"phi3": Phi3, "phi-3": Phi3, "phi3.5": Phi3, "phimoe": Phi3,
	"granite": Granite, "granitemoe": Granite,
	"llama3": Llama3, "llama-3": Llama3, "llama-3.1": Llama3,
	"mistral": Mistral, "mixtral": Mistral, "mistral-v1": Mistral,
	"olmoe": OLMoE, "tulu": OLMoE, "olmo": OLMoE,
}

// Parse resolves an explicit family name (case-insensitive, with a few
// aliases such as "qwen3" or "mixtral").
func Parse(name string) (Family, error) {
	if f, ok := aliases[strings.ToLower(strings.TrimSpace(name))]; ok {
		return f, nil
	}
	names := make([]string, 0, len(aliases))
	for a := range aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	return "", fmt.Errorf("chattmpl: unknown chat template family %q (valid: %s)", name, strings.Join(names, ", "))
}

// Detect recognises the family of a Jinja chat template by the markers it
// writes. An empty or unrecognised template gives ChatML.
func Detect(jinja string) Family {
	switch {
	case strings.Contains(jinja, "<|im_start|>") && strings.Contains(jinja, "<think>"):
		return Qwen3
	case strings.Contains(jinja, "<|im_start|>"):
		return ChatML
	case strings.Contains(jinja, "<|start_header_id|>"):
		return Llama3
	case strings.Contains(jinja, "<|start_of_role|>"):
		return Granite
	case strings.Contains(jinja, "[INST]"):
		return Mistral
	case strings.Contains(jinja, "<|user|>") && strings.Contains(jinja, "<|end|>"):
		return Phi3
	case strings.Contains(jinja, "<|user|>") && strings.Contains(jinja, "<|assistant|>"):
		return OLMoE
	}
	return ChatML
}

// Apply renders msgs in family f. With addGenerationPrompt the text ends
// where the assistant's reply begins. bos is written first for families
// whose templates write the BOS token themselves (Llama 3, Mistral, OLMoE);
// pass "" when the caller adds BOS as a token instead. Control tokens in the
// result are literal text, so encode it with special-token parsing on.
// An unknown family renders as ChatML.
func Apply(f Family, msgs []engine.ChatMessage, addGenerationPrompt bool, bos string) string {
	text, _ := ApplyGuarded(f, msgs, addGenerationPrompt, bos)
	return text
}

// ApplyGuarded is Apply that also returns where each message's text lies in
// the result, as [start, end) byte ranges. Hand them to
// tokenizer.EncodeGuarded so that control-token text inside a message stays
// text.
func ApplyGuarded(f Family, msgs []engine.ChatMessage, addGenerationPrompt bool, bos string) (string, [][2]int) {
	var b builder
	switch f {
	case Llama3:
		b.WriteString(bos)
		for _, m := range msgs {
			// Meta's template trims every message.
			b.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n")
			b.content(strings.TrimSpace(m.Content))
			b.WriteString("<|eot_id|>")
		}
		if addGenerationPrompt {
			b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		}
	case Mistral:
		applyMistral(&b, msgs, bos)
	case OLMoE:
		b.WriteString(bos)
		for i, m := range msgs {
			switch m.Role {
			case "system":
				b.WriteString("<|system|>\n")
				b.content(m.Content)
				b.WriteString("\n")
			case "assistant":
				b.WriteString("<|assistant|>\n")
				b.content(m.Content)
				b.WriteString("<|endoftext|>")
				if i < len(msgs)-1 {
					b.WriteString("\n")
				}
			default:
				b.WriteString("<|user|>\n")
				b.content(m.Content)
				b.WriteString("\n")
			}
		}
		if addGenerationPrompt {
			b.WriteString("<|assistant|>\n")
		}
	case Phi3:
		for _, m := range msgs {
			if m.Role == "system" && m.Content == "" {
				continue // Phi-3's template drops empty system messages
			}
			b.WriteString("<|" + m.Role + "|>\n")
			b.content(m.Content)
			b.WriteString("<|end|>\n")
		}
		if addGenerationPrompt {
			b.WriteString("<|assistant|>\n")
		}
	case Granite:
		// Granite's template invents a system message (with today's date)
		// when there is none; a character prompt always brings its own, so
		// that is left out.
		for _, m := range msgs {
			b.WriteString("<|start_of_role|>" + m.Role + "<|end_of_role|>")
			b.content(m.Content)
			b.WriteString("<|end_of_text|>\n")
		}
		if addGenerationPrompt {
			b.WriteString("<|start_of_role|>assistant<|end_of_role|>")
		}
	case Qwen3:
		for _, m := range msgs {
			c := m.Content
			if m.Role == "assistant" {
				// Earlier turns are shown without their reasoning, as
				// Qwen3's template does.
				if i := strings.LastIndex(c, "</think>"); i >= 0 {
					c = strings.TrimLeft(c[i+len("</think>"):], "\n")
				}
			}
			b.WriteString("<|im_start|>" + m.Role + "\n")
			b.content(c)
			b.WriteString("<|im_end|>\n")
		}
		if addGenerationPrompt {
			// An empty thinking block is how Qwen3's template switches
			// thinking off (enable_thinking=false): characters answer
			// directly instead of writing their reasoning to the player.
			b.WriteString("<|im_start|>assistant\n<think>\n\n</think>\n\n")
		}
	default:
		for _, m := range msgs {
			b.WriteString("<|im_start|>" + m.Role + "\n")
			b.content(m.Content)
			b.WriteString("<|im_end|>\n")
		}
		if addGenerationPrompt {
			b.WriteString("<|im_start|>assistant\n")
		}
	}
	return b.String(), b.spans
}

// builder writes a prompt and remembers where message text went.
type builder struct {
	strings.Builder
	spans [][2]int
}

func (b *builder) content(s string) {
	if s == "" {
		return
	}
	start := b.Len()
	b.WriteString(s)
	b.spans = append(b.spans, [2]int{start, b.Len()})
}

// applyMistral writes the Mistral/Mixtral instruct format. There is no
// system role: a system message opens the next [INST] block and is joined to
// the user text by a blank line, as Mixtral's updated template does; every
// assistant turn ends with </s>. The prompt always ends ready for the
// assistant, so addGenerationPrompt changes nothing.
//
// Spacing follows Mistral's reference tokenization, [BOS] "▁[INST]" user
// "▁[/INST]" "▁answer" [EOS] "▁[INST]" ..., given a SentencePiece tokenizer
// that starts a word after BOS and after </s> (as ours and llama.cpp's do):
// so no space before [INST], one before [/INST] and before each answer.
func applyMistral(b *builder, msgs []engine.ChatMessage, bos string) {
	b.WriteString(bos)
	open := false
	for _, m := range msgs {
		switch m.Role {
		case "system":
			if !open {
				b.WriteString("[INST] ")
				open = true
			}
			b.content(m.Content)
			b.WriteString("\n\n")
		case "assistant":
			if open { // a system message with no user turn after it
				b.WriteString(" [/INST]")
				open = false
			}
			b.WriteString(" ")
			b.content(m.Content)
			b.WriteString("</s>")
		default:
			if !open {
				b.WriteString("[INST] ")
			}
			b.content(m.Content)
			b.WriteString(" [/INST]")
			open = false
		}
	}
	if open {
		b.WriteString(" [/INST]")
	}
}

// StopStrings are texts that end an assistant turn in family f when the
// model writes them as text rather than as a single end-of-generation token.
func StopStrings(f Family) []string {
	switch f {
	case Llama3:
		return []string{"<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>"}
	case Mistral:
		return []string{"</s>", "[INST]"}
	case OLMoE:
		return []string{"<|endoftext|>", "<|user|>", "<|system|>"}
	case Phi3:
		return []string{"<|end|>", "<|endoftext|>", "<|user|>"}
	case Granite:
		return []string{"<|end_of_text|>", "<|start_of_role|>"}
	default:
		return []string{"<|im_end|>", "<|endoftext|>", "<|im_start|>"}
	}
}
