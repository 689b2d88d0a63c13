// Package tokenizer owns text <-> token id conversion for the local engine:
// loading a vocabulary from GGUF tokenizer metadata (byte-level BPE "gpt2"
// and SentencePiece-style "llama" models, as llama.cpp reads them), encoding
// with special-token parsing, decoding (whole or streamed), and building small
// byte-level BPE vocabularies for tests and the bundled random-weight model.
package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// TokenType is the GGUF token_type value of a vocabulary entry.
type TokenType int32

// Token types as GGUF (and SentencePiece) number them.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

type modelKind int

const (
	kindBPE modelKind = iota + 1
	kindSPM
)

// spmSpace is SentencePiece's visible stand-in for a space (U+2581).
const spmSpace = "\u2581"

// Tokenizer converts between text and token ids. It is immutable after
// FromMetadata apart from an internal word cache, and safe for concurrent use.
type Tokenizer struct {
	warnings []string
	kind     modelKind
	pre      *preFamily
	tokens   []string
	types    []TokenType
	scores   []float32
	toID     map[string]int32
	// pieces[id] is what the token decodes to in user-visible text;
	// control-like tokens decode to "" there and to their text in special.
	pieces  []string
	special []string

	bos, eos, eot, eom, unk, pad int
	addBOS, addEOS, spacePrefix  bool
	eog                          []bool
	// specials are the ids matched literally in text before pre-tokenizing,
	// longest text first (so "<|im_start|>" wins over a shorter prefix).
	specials []int32
	// Vocabularies may hold thousands of reserved control tokens, so
	// partition first finds which specials occur at all: candidate start
	// bytes, the distinct special lengths, and each special's rank in
	// specials.
	specialFirst [256]bool
	specialLens  []int
	specialRank  map[string]int
	byteTok      [256]int32 // SentencePiece <0xXX> tokens, -1 when absent

	bpe *bpeModel
}

// eogTexts are token texts that end generation in the chat models we run,
// whether or not the metadata names them (llama.cpp keeps the same list).
var eogTexts = map[string]bool{
	"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<end_of_turn>": true,
	"<|endoftext|>": true, "</s>": true, "<|eom_id|>": true, "<EOT>": true,
	"<|end_of_text|>": true,
}

// FromMetadata builds a tokenizer from GGUF tokenizer metadata. Errors name
// the offending key.
func FromMetadata(md map[string]any) (*Tokenizer, error) {
	if md == nil {
		return nil, errors.New("tokenizer: no metadata")
	}
	model, ok, err := mdString(md, KeyModel)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("tokenizer: metadata %s: missing", KeyModel)
	}
	t := &Tokenizer{bos: -1, eos: -1, eot: -1, eom: -1, unk: -1, pad: -1}
	switch model {
	case "gpt2":
		t.kind = kindBPE
	case "llama":
		t.kind = kindSPM
	default:
		return nil, fmt.Errorf("tokenizer: metadata %s: unsupported tokenizer model %q (want \"gpt2\" or \"llama\")", KeyModel, model)
	}

	tokens, ok, err := mdStrings(md, KeyTokens)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("tokenizer: metadata %s: missing", KeyTokens)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("tokenizer: metadata %s: empty vocabulary", KeyTokens)
	}
	if len(tokens) >= 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: metadata %s: %d tokens is too many", KeyTokens, len(tokens))
	}
	n := len(tokens)
	t.tokens = make([]string, n)
	t.toID = make(map[string]int32, n)
	for i, s := range tokens {
		if s == "" {
			// llama.cpp renames empty entries the same way so ids stay stable.
			s = fmt.Sprintf("[EMPTY_%d]", i)
		}
		if j, dup := t.toID[s]; dup {
			return nil, fmt.Errorf("tokenizer: metadata %s: duplicate token %q at ids %d and %d", KeyTokens, s, j, i)
		}
		t.toID[s] = int32(i)
		t.tokens[i] = s
	}

	t.types = make([]TokenType, n)
	types, ok, err := mdInts(md, KeyTokenType)
	if err != nil {
		return nil, err
	}
	if ok {
		if len(types) != n {
			return nil, fmt.Errorf("tokenizer: metadata %s: %d entries for %d tokens", KeyTokenType, len(types), n)
		}
		for i, v := range types {
			if v < int64(TypeUndefined) || v > int64(TypeByte) {
				return nil, fmt.Errorf("tokenizer: metadata %s[%d]: unknown token type %d", KeyTokenType, i, v)
			}
			t.types[i] = TokenType(v)
		}
	} else {
		for i := range t.types {
			t.types[i] = TypeNormal
		}
	}

	scores, ok, err := mdFloats(md, KeyScores)
	if err != nil {
		return nil, err
	}
	if ok && len(scores) != n {
		return nil, fmt.Errorf("tokenizer: metadata %s: %d entries for %d tokens", KeyScores, len(scores), n)
	}
	t.scores = scores

	preName, _, err := mdString(md, KeyPre)
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case kindBPE:
		if t.pre, err = lookupPre(preName); err != nil {
			return nil, err
		}
		t.addBOS = t.pre.addBOS
		merges, ok, err := mdStrings(md, KeyMerges)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("tokenizer: metadata %s: missing (required for model gpt2)", KeyMerges)
		}
		if t.bpe, err = newBPE(t.toID, n, merges, t.pre.ignoreMerges); err != nil {
			return nil, err
		}
	case kindSPM:
		t.addBOS = true
		t.spacePrefix = true
		// llama.cpp's defaults for SentencePiece vocabularies.
		for _, d := range []struct {
			dst *int
			id  int
		}{{&t.unk, 0}, {&t.bos, 1}, {&t.eos, 2}} {
			if d.id < n {
				*d.dst = d.id
			}
		}
	}

	if err := t.readSpecialIDs(md); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{KeyAddBOS, &t.addBOS}, {KeyAddEOS, &t.addEOS}, {KeyAddSpacePrefix, &t.spacePrefix}} {
		v, ok, err := mdBool(md, b.key)
		if err != nil {
			return nil, err
		}
		if ok {
			*b.dst = v
		}
	}
	if t.kind == kindBPE {
		t.spacePrefix = false // llama.cpp's BPE path never adds one
	}
	if t.addBOS && t.bos < 0 {
		return nil, fmt.Errorf("tokenizer: metadata %s is true, but %s is not set", KeyAddBOS, KeyBOS)
	}
	if t.addEOS && t.eos < 0 {
		return nil, fmt.Errorf("tokenizer: metadata %s is true, but %s is not set", KeyAddEOS, KeyEOS)
	}

	t.eog = make([]bool, n)
	for i, s := range t.tokens {
		if eogTexts[s] {
			t.eog[i] = true
			if t.types[i] != TypeControl {
				t.types[i] = TypeControl // as llama.cpp: these are control tokens whatever the file says
			}
		}
	}
	for _, id := range []int{t.eos, t.eot, t.eom} {
		if id >= 0 {
			t.eog[id] = true
		}
	}

	for i := range t.byteTok {
		t.byteTok[i] = -1
		if id, ok := t.toID[fmt.Sprintf("<0x%02X>", i)]; ok {
			t.byteTok[i] = id
		}
	}
	for i, typ := range t.types {
		if typ == TypeControl || typ == TypeUserDefined || typ == TypeUnknown {
			t.specials = append(t.specials, int32(i))
		}
	}
	sort.SliceStable(t.specials, func(a, b int) bool {
		return len(t.tokens[t.specials[a]]) > len(t.tokens[t.specials[b]])
	})
	t.specialRank = make(map[string]int, len(t.specials))
	seenLen := map[int]bool{}
	for r, id := range t.specials {
		s := t.tokens[id]
		t.specialRank[s] = r
		t.specialFirst[s[0]] = true
		if !seenLen[len(s)] {
			seenLen[len(s)] = true
			t.specialLens = append(t.specialLens, len(s))
		}
	}
	t.buildPieces()
	return t, nil
}

func (t *Tokenizer) readSpecialIDs(md map[string]any) error {
	for _, s := range []struct {
		key string
		dst *int
	}{{KeyBOS, &t.bos}, {KeyEOS, &t.eos}, {KeyEOT, &t.eot}, {KeyEOM, &t.eom}, {KeyUnknown, &t.unk}, {KeyPadding, &t.pad}} {
		v, ok, err := mdInt(md, s.key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if v < 0 || v >= int64(len(t.tokens)) {
			// Files in circulation store "none" as 4294967295 (or -1);
			// llama.cpp warns and keeps its default, and so do we.
			t.warnings = append(t.warnings, fmt.Sprintf("metadata %s = %d is outside the vocabulary of %d tokens; ignored", s.key, v, len(t.tokens)))
			continue
		}
		*s.dst = int(v)
	}
	return nil
}

func (t *Tokenizer) buildPieces() {
	n := len(t.tokens)
	t.pieces = make([]string, n)
	t.special = make([]string, n)
	for i, s := range t.tokens {
		var p string
		switch t.types[i] {
		case TypeControl, TypeUnused:
			p = ""
		case TypeUserDefined:
			p = s
		case TypeByte:
			if b, ok := parseByteToken(s); ok {
				p = string([]byte{b})
			} else {
				p = s
			}
		case TypeUnknown:
			if t.kind == kindSPM {
				p = "\u2585" // what llama.cpp shows for <unk>
			} else {
				p = ""
			}
		default:
			if t.kind == kindBPE {
				p = string(byteLevelDecode(nil, s))
			} else {
				p = strings.ReplaceAll(s, spmSpace, " ")
			}
		}
		t.pieces[i] = p
		t.special[i] = p
		if t.types[i] == TypeControl || t.types[i] == TypeUnknown {
			t.special[i] = s
		}
	}
}

func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	var v byte
	for _, c := range s[3:5] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= byte(c - '0')
		case c >= 'A' && c <= 'F':
			v |= byte(c - 'A' + 10)
		case c >= 'a' && c <= 'f':
			v |= byte(c - 'a' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}

// VocabSize is the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Warnings lists what was wrong in the metadata but could be passed over,
// as llama.cpp passes over it (out-of-range special token ids).
func (t *Tokenizer) Warnings() []string { return t.warnings }

// BOS is the beginning-of-sequence id, or -1.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS is the end-of-sequence id, or -1.
func (t *Tokenizer) EOS() int { return t.eos }

// EOT is the end-of-turn id from metadata, or -1.
func (t *Tokenizer) EOT() int { return t.eot }

// Padding is the padding id, or -1.
func (t *Tokenizer) Padding() int { return t.pad }

// Unknown is the unknown-token id, or -1.
func (t *Tokenizer) Unknown() int { return t.unk }

// AddBOS reports whether the model expects BOS in front of a prompt.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether the metadata asks for EOS after a prompt; Encode
// never appends it on its own.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// Model is "gpt2" or "llama", as in tokenizer.ggml.model.
func (t *Tokenizer) Model() string {
	if t.kind == kindSPM {
		return "llama"
	}
	return "gpt2"
}

// IsEOG reports whether sampling id ends generation.
func (t *Tokenizer) IsEOG(id int) bool {
	return id >= 0 && id < len(t.eog) && t.eog[id]
}

// TokenText is the raw vocabulary entry for id ("" when out of range).
func (t *Tokenizer) TokenText(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenType is the type of id (TypeUndefined when out of range).
func (t *Tokenizer) TokenType(id int) TokenType {
	if id < 0 || id >= len(t.types) {
		return TypeUndefined
	}
	return t.types[id]
}

// TokenID looks up a vocabulary entry by its raw text.
func (t *Tokenizer) TokenID(text string) (int, bool) {
	id, ok := t.toID[text]
	return int(id), ok
}

// fragment is a piece of input that is either raw text or one special token.
type fragment struct {
	text  string
	start int   // byte offset of text in the input
	id    int32 // -1 for text
}

// Encode converts text to ids. addBOS prepends BOS when the vocabulary has
// one. With parseSpecial, control tokens written literally (such as
// "<|im_start|>") become their ids; user-defined tokens are always matched,
// as llama.cpp does, and control tokens are otherwise plain text.
func (t *Tokenizer) Encode(text string, addBOS bool, parseSpecial bool) []int {
	return t.encode(text, addBOS, parseSpecial, nil)
}

// EncodeGuarded is Encode with special-token parsing, except that no special
// token is recognised where it overlaps one of the byte ranges in plain
// ([start, end) pairs, for example the message texts from
// chattmpl.ApplyGuarded). A player who types "<|im_end|>" then gets those
// characters as text instead of ending their turn. Outside the ranges the
// result is exactly Encode(text, addBOS, true).
func (t *Tokenizer) EncodeGuarded(text string, addBOS bool, plain [][2]int) []int {
	return t.encode(text, addBOS, true, plain)
}

func (t *Tokenizer) encode(text string, addBOS, parseSpecial bool, plain [][2]int) []int {
	out := make([]int, 0, len(text)/3+2)
	if addBOS && t.bos >= 0 {
		out = append(out, t.bos)
	}
	prevSpecial := true
	for _, f := range t.partition(text, parseSpecial, plain) {
		if f.id >= 0 {
			out = append(out, int(f.id))
			prevSpecial = true
			continue
		}
		switch t.kind {
		case kindBPE:
			for _, w := range t.pre.split(f.text) {
				out = t.bpe.encodeWord(w, t.unk, out)
			}
		case kindSPM:
			s := f.text
			// SentencePiece treats the start of text, and text after a special
			// token, as the start of a word.
			if t.spacePrefix && prevSpecial {
				s = " " + s
			}
			out = t.encodeSPM(s, out)
		}
		prevSpecial = false
	}
	return out
}

// partition splits text around special tokens the way llama.cpp does:
// specials are applied longest first, each one cutting every remaining
// text fragment at all its occurrences.
func (t *Tokenizer) partition(text string, parseSpecial bool, plain [][2]int) []fragment {
	if text == "" {
		return nil
	}
	guarded := func(at, n int) bool {
		for _, r := range plain {
			if at < r[1] && r[0] < at+n {
				return true
			}
		}
		return false
	}
	frags := []fragment{{text: text, id: -1}}
	for _, sid := range t.specialsIn(text, parseSpecial) {
		st := t.tokens[sid]
		var next []fragment
		for i, f := range frags {
			if f.id >= 0 || !strings.Contains(f.text, st) {
				if next != nil {
					next = append(next, f)
				}
				continue
			}
			if next == nil {
				next = append(make([]fragment, 0, len(frags)+4), frags[:i]...)
			}
			// from..pos is text not yet emitted; pos is where the search resumes.
			from, pos := 0, 0
			for {
				j := strings.Index(f.text[pos:], st)
				if j < 0 {
					break
				}
				j += pos
				if guarded(f.start+j, len(st)) {
					pos = j + 1
					continue
				}
				if j > from {
					next = append(next, fragment{text: f.text[from:j], start: f.start + from, id: -1})
				}
				next = append(next, fragment{start: f.start + j, id: sid})
				from = j + len(st)
				pos = from
			}
			if from < len(f.text) {
				next = append(next, fragment{text: f.text[from:], start: f.start + from, id: -1})
			}
		}
		if next != nil {
			frags = next
		}
	}
	return frags
}

// specialsIn lists the specials that occur somewhere in text and may be
// matched, in the order partition applies them.
func (t *Tokenizer) specialsIn(text string, parseSpecial bool) []int32 {
	if len(t.specials) == 0 {
		return nil
	}
	var ranks []int
	seen := map[int]bool{}
	for i := 0; i < len(text); i++ {
		if !t.specialFirst[text[i]] {
			continue
		}
		for _, l := range t.specialLens {
			if i+l > len(text) {
				continue
			}
			r, ok := t.specialRank[text[i:i+l]]
			if !ok || seen[r] {
				continue
			}
			seen[r] = true
			if parseSpecial || t.types[t.specials[r]] == TypeUserDefined {
				ranks = append(ranks, r)
			}
		}
	}
	sort.Ints(ranks)
	out := make([]int32, len(ranks))
	for i, r := range ranks {
		out[i] = t.specials[r]
	}
	return out
}
