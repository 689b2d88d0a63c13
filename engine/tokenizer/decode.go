package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Decode converts ids to text. Control tokens (BOS, <|im_end|>, ...) and ids
// outside the vocabulary produce nothing. For SentencePiece vocabularies the
// space Encode adds at the start of text (and after a special token) is
// removed again, so Decode(Encode(s)) == s.
func (t *Tokenizer) Decode(ids []int) string {
	return t.decode(ids, false)
}

// DecodeSpecial is Decode but writes control tokens as their text.
func (t *Tokenizer) DecodeSpecial(ids []int) string {
	return t.decode(ids, true)
}

func (t *Tokenizer) decode(ids []int, special bool) string {
	var b strings.Builder
	atStart := true
	for _, id := range ids {
		p, start := t.piece(id, special, atStart)
		atStart = start
		b.WriteString(p)
	}
	return b.String()
}

// piece returns the text of id and whether the next token starts a word in
// SentencePiece's sense (after the beginning or a special token).
func (t *Tokenizer) piece(id int, special, atStart bool) (string, bool) {
	if id < 0 || id >= len(t.tokens) {
		return "", atStart
	}
	p := t.pieces[id]
	if special {
		p = t.special[id]
	}
	switch t.types[id] {
	case TypeControl, TypeUserDefined, TypeUnknown:
		return p, true
	case TypeUnused:
		return p, atStart
	}
	if atStart && t.spacePrefix && t.kind == kindSPM && strings.HasPrefix(p, " ") {
		p = p[1:]
	}
	return p, false
}

// StreamDecoder turns ids into text one at a time without splitting a UTF-8
// character whose bytes arrive in different tokens.
type StreamDecoder struct {
	t       *Tokenizer
	pending []byte
	atStart bool
}

// NewStreamDecoder starts decoding a fresh sequence; it follows Decode's
// rules, including dropping the SentencePiece word-start space at the start.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{t: t, atStart: true}
}

// NewContinuationDecoder decodes tokens that continue a sequence, as a
// generation continues its prompt: a SentencePiece word-start space on the
// first token is text, and kept, as llama.cpp's token_to_piece keeps it.
func (t *Tokenizer) NewContinuationDecoder() *StreamDecoder {
	return &StreamDecoder{t: t}
}

// Push adds one id and returns the text completed by it: valid UTF-8, with
// an unfinished multi-byte sequence at the end held back for later tokens.
// Bytes that can never form a character come out as U+FFFD.
func (d *StreamDecoder) Push(id int) string {
	p, start := d.t.piece(id, false, d.atStart)
	d.atStart = start
	d.pending = append(d.pending, p...)
	cut := len(d.pending)
	// Look back at most 3 bytes for the lead byte of an unfinished rune.
	for i := len(d.pending) - 1; i >= 0 && i >= len(d.pending)-3; i-- {
		c := d.pending[i]
		if c&0xC0 == 0x80 {
			continue // continuation byte
		}
		if c >= 0xC0 && !utf8.FullRune(d.pending[i:]) {
			cut = i
		}
		break
	}
	out := strings.ToValidUTF8(string(d.pending[:cut]), "\uFFFD")
	d.pending = append(d.pending[:0], d.pending[cut:]...)
	return out
}

// Flush returns whatever is held back, as U+FFFD when it never completed.
func (d *StreamDecoder) Flush() string {
	out := strings.ToValidUTF8(string(d.pending), "\uFFFD")
	d.pending = d.pending[:0]
	return out
}
