// Package models gets GGUF chat models onto this machine and keeps track of
// them: a small catalogue of MoE chat models the engine runs, downloads
// from the Hugging Face Hub (or a mirror, or any URL) that resume after an
// interruption and are checked against the Hub's SHA-256 before a file is
// ever used, and the list of installed models in the data folder.
package models

import (
	"fmt"
	"sort"
	"strings"
)

// Entry is a catalogue model: a chat model the engine supports, as one
// GGUF file of a Hub repository. The file is found in the repository's
// file list by its quantisation, so repositories that rename files keep
// working.
type Entry struct {
	Name        string   // what `maopao model pull` takes
	Title       string   // in words, for people
	Repo        string   // Hugging Face repository
	Quant       string   // the file's quantisation: Q4_K_M, Q8_0
	Arch        string   // GGUF general.architecture
	Params      string   // total and active parameters
	SizeBytes   int64    // the file, about
	RAMBytes    int64    // what running it takes at a 4k context, about
	Languages   []string // what it speaks well
	Licence     string
	Description string
}

const gib = 1 << 30

// Catalogue lists the models `maopao model pull` knows by name, smallest
// first. Sizes are those of the published files, rounded; RAM adds the KV
// cache of a few conversations and the engine's working memory.
var Catalogue = []Entry{
	{Name: "granite-moe-1b", Title: "Granite 3.1 MoE 1B-A400M Instruct", Repo: "bartowski/granite-3.1-1b-a400m-instruct-GGUF", Quant: "Q4_K_M",
		Arch: "granitemoe", Params: "1.3B total, 400M active", SizeBytes: 822 << 20, RAMBytes: 2 * gib,
		Languages: []string{"en", "de", "es", "fr", "ja", "pt", "ar", "cs", "it", "ko", "nl", "zh"}, Licence: "Apache-2.0",
		Description: "IBM's smallest MoE: quick on any laptop, simple conversations."},
	{Name: "granite-moe-1b:q8_0", Title: "Granite 3.1 MoE 1B-A400M Instruct (Q8_0)", Repo: "bartowski/granite-3.1-1b-a400m-instruct-GGUF", Quant: "Q8_0",
		Arch: "granitemoe", Params: "1.3B total, 400M active", SizeBytes: 1400 << 20, RAMBytes: 3 * gib,
		Languages: []string{"en", "de", "es", "fr", "ja", "pt", "ar", "cs", "it", "ko", "nl", "zh"}, Licence: "Apache-2.0",
		Description: "The same model at 8 bits: a little better, twice the size."},
	{Name: "granite-moe-3b", Title: "Granite 3.1 MoE 3B-A800M Instruct", Repo: "bartowski/granite-3.1-3b-a800m-instruct-GGUF", Quant: "Q4_K_M",
		Arch: "granitemoe", Params: "3.3B total, 800M active", SizeBytes: 2 * gib, RAMBytes: 4 * gib,
		Languages: []string{"en", "de", "es", "fr", "ja", "pt", "ar", "cs", "it", "ko", "nl", "zh"}, Licence: "Apache-2.0",
		Description: "IBM's larger MoE: better replies, still fast on a CPU."},
	{Name: "olmoe-1b-7b", Title: "OLMoE 1B-7B Instruct", Repo: "allenai/OLMoE-1B-7B-0125-Instruct-GGUF", Quant: "Q4_K_M",
		Arch: "olmoe", Params: "6.9B total, 1.3B active", SizeBytes: 4200 << 20, RAMBytes: 6 * gib,
		Languages: []string{"en"}, Licence: "Apache-2.0",
		Description: "AI2's fully open MoE (64 experts, 8 active): good English chat for its speed."},
	{Name: "qwen1.5-moe-a2.7b", Title: "Qwen1.5 MoE A2.7B Chat", Repo: "mradermacher/Qwen1.5-MoE-A2.7B-Chat-GGUF", Quant: "Q4_K_M",
		Arch: "qwen2moe", Params: "14.3B total, 2.7B active", SizeBytes: 8800 << 20, RAMBytes: 11 * gib,
		Languages: []string{"zh", "en", "and more"}, Licence: "Tongyi Qianwen",
		Description: "Chinese and English chat, with a shared expert."},
	{Name: "qwen3-30b-a3b", Title: "Qwen3 30B-A3B", Repo: "Qwen/Qwen3-30B-A3B-GGUF", Quant: "Q4_K_M",
		Arch: "qwen3moe", Params: "30.5B total, 3.3B active", SizeBytes: 18600 << 20, RAMBytes: 22 * gib,
		Languages: []string{"119 languages, zh and en first"}, Licence: "Apache-2.0",
		Description: "The best of the list: strong, multilingual, still fast since only 3B are active."},
	{Name: "qwen3-30b-a3b:q8_0", Title: "Qwen3 30B-A3B (Q8_0)", Repo: "Qwen/Qwen3-30B-A3B-GGUF", Quant: "Q8_0",
		Arch: "qwen3moe", Params: "30.5B total, 3.3B active", SizeBytes: 32500 << 20, RAMBytes: 36 * gib,
		Languages: []string{"119 languages, zh and en first"}, Licence: "Apache-2.0",
		Description: "Qwen3 30B-A3B at 8 bits, for machines with the memory."},
	{Name: "mixtral-8x7b", Title: "Mixtral 8x7B Instruct v0.1", Repo: "TheBloke/Mixtral-8x7B-Instruct-v0.1-GGUF", Quant: "Q4_K_M",
		Arch: "llama", Params: "46.7B total, 12.9B active", SizeBytes: 26400 << 20, RAMBytes: 30 * gib,
		Languages: []string{"en", "fr", "it", "de", "es"}, Licence: "Apache-2.0",
		Description: "Mistral's classic MoE: fluent European languages, needs a big machine."},
}

// Lookup finds a catalogue entry by name, in any case.
func Lookup(name string) (Entry, bool) {
	for _, e := range Catalogue {
		if strings.EqualFold(e.Name, name) {
			return e, true
		}
	}
	return Entry{}, false
}

// BestFit is the largest catalogue model whose RAM need fits in
// availableRAM, or false when none does.
func BestFit(availableRAM int64) (Entry, bool) {
	fit := []Entry{}
	for _, e := range Catalogue {
		if e.RAMBytes <= availableRAM && !strings.Contains(e.Name, ":") {
			fit = append(fit, e)
		}
	}
	if len(fit) == 0 {
		return Entry{}, false
	}
	sort.SliceStable(fit, func(i, j int) bool { return fit[i].RAMBytes > fit[j].RAMBytes })
	return fit[0], true
}

// HumanBytes writes n in GiB or MiB, one decimal.
func HumanBytes(n int64) string {
	switch {
	case n >= gib:
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
