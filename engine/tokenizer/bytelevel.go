package tokenizer

import "unicode/utf8"

// GPT-2 style byte-level BPE never stores raw bytes in token text: every byte
// is shown as a printable rune so that vocabularies and merges stay plain,
// space-separated text. Printable Latin-1 bytes stand for themselves; the
// remaining 68 bytes are moved, in byte order, to U+0100 and up.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
	byteToText [256]string
)

func init() {
	next := rune(256)
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		r := rune(b)
		if !printable {
			r = next
			next++
		}
		byteToRune[b] = r
		runeToByte[r] = byte(b)
		byteToText[b] = string(r)
	}
}

// byteLevelEncode maps raw bytes to their printable-rune text.
func byteLevelEncode(s string) string {
	buf := make([]byte, 0, len(s)*2)
	for i := 0; i < len(s); i++ {
		buf = utf8.AppendRune(buf, byteToRune[s[i]])
	}
	return string(buf)
}

// byteLevelDecode reverses byteLevelEncode. Runes outside the mapping (text
// written by a tool that did not byte-map) are kept as their UTF-8 bytes.
func byteLevelDecode(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if b, ok := runeToByte[r]; ok {
			dst = append(dst, b)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}
