package card

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"github.com/maopao/maopao"
)

// PNG keywords of the text chunks that carry a card. Readers compare them
// case-insensitively, as SillyTavern does.
const (
	keywordV2 = "chara"
	keywordV3 = "ccv3"
)

// maxTextBytes caps the text of one card chunk: base64 of the largest card
// JSON we accept, with room for line breaks some writers insert.
var maxTextBytes = base64.StdEncoding.EncodedLen(MaxJSONBytes) + MaxJSONBytes/16

// maxPixels caps the size of a JPEG avatar we decode to turn it into a PNG.
const maxPixels = 4096 * 4096

// chunk is one PNG chunk; raw is its whole encoding (length, type, data,
// CRC), for copying it unchanged.
type chunk struct {
	typ    string
	data   []byte
	raw    []byte
	offset int
}

func (c chunk) where() string { return fmt.Sprintf("png:%s@%d", c.typ, c.offset) }

// walkChunks checks the PNG signature and calls fn for every chunk up to and
// including IEND, after verifying its length and CRC. Bytes after IEND are
// ignored, as image decoders do.
func walkChunks(data []byte, fn func(chunk) error) error {
	if !bytes.HasPrefix(data, pngSignature) {
		return errf("png", "not a PNG file (bad signature)")
	}
	off := len(pngSignature)
	first := true
	for {
		if len(data)-off < 12 {
			return errf("png", "truncated: the file ends at byte %d before the IEND chunk", len(data))
		}
		n := binary.BigEndian.Uint32(data[off:])
		typ := data[off+4 : off+8]
		for _, b := range typ {
			if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z') {
				return errf("png", "invalid chunk type %q at byte %d (corrupt file?)", typ, off)
			}
		}
		if n > 1<<31-1 || int64(n) > int64(len(data)-off-12) {
			return errf(fmt.Sprintf("png:%s@%d", typ, off),
				"truncated: chunk says %d bytes but only %d remain", n, len(data)-off-12)
		}
		end := off + 12 + int(n)
		c := chunk{typ: string(typ), data: data[off+8 : off+8+int(n)], raw: data[off:end], offset: off}
		want := binary.BigEndian.Uint32(data[end-4:])
		if got := crc32.Update(crc32.ChecksumIEEE(typ), crc32.IEEETable, c.data); got != want {
			return errf(c.where(), "bad CRC: stored %08x, computed %08x (corrupt file)", want, got)
		}
		if first && c.typ != "IHDR" {
			return errf(c.where(), "the first chunk must be IHDR")
		}
		first = false
		if err := fn(c); err != nil {
			return err
		}
		if c.typ == "IEND" {
			if n != 0 {
				return errf(c.where(), "IEND must be empty")
			}
			return nil
		}
		off = end
	}
}

func isTextChunk(typ string) bool { return typ == "tEXt" || typ == "zTXt" || typ == "iTXt" }

// textKeyword returns the keyword of a tEXt, zTXt or iTXt chunk.
func textKeyword(c chunk) (string, bool) {
	if !isTextChunk(c.typ) {
		return "", false
	}
	i := bytes.IndexByte(c.data, 0)
	if i < 1 || i > 79 {
		return "", false
	}
	return string(c.data[:i]), true
}

func isCardKeyword(kw string) bool {
	return strings.EqualFold(kw, keywordV2) || strings.EqualFold(kw, keywordV3)
}

// textBody returns a text chunk's text, decompressing zTXt and compressed
// iTXt with the output capped at limit bytes.
func textBody(c chunk, limit int) ([]byte, error) {
	i := bytes.IndexByte(c.data, 0)
	if i < 1 {
		return nil, errf(c.where(), "text chunk without a keyword")
	}
	rest := c.data[i+1:]
	switch c.typ {
	case "tEXt":
		if len(rest) > limit {
			return nil, errf(c.where(), "text is %d bytes; the limit is %d", len(rest), limit)
		}
		return rest, nil
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return nil, errf(c.where(), "unknown compression method")
		}
		return inflate(c, rest[1:], limit)
	case "iTXt":
		if len(rest) < 2 {
			return nil, errf(c.where(), "truncated iTXt header")
		}
		compressed, method := rest[0], rest[1]
		rest = rest[2:]
		for range 2 { // language tag, then translated keyword
			j := bytes.IndexByte(rest, 0)
			if j < 0 {
				return nil, errf(c.where(), "truncated iTXt header")
			}
			rest = rest[j+1:]
		}
		switch {
		case compressed == 0:
			if len(rest) > limit {
				return nil, errf(c.where(), "text is %d bytes; the limit is %d", len(rest), limit)
			}
			return rest, nil
		case compressed == 1 && method == 0:
			return inflate(c, rest, limit)
		}
		return nil, errf(c.where(), "unknown compression flag %d / method %d", compressed, method)
	}
	return nil, errf(c.where(), "not a text chunk")
}

func inflate(c chunk, z []byte, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, errf(c.where(), "bad compressed text: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, errf(c.where(), "bad compressed text: %v", err)
	}
	if len(out) > limit {
		return nil, errf(c.where(), "compressed text expands beyond %d bytes", limit)
	}
	return out, nil
}

// decodeBase64 reads the base64 in a card chunk, tolerating line breaks,
// missing padding and the URL alphabet, which some writers produce.
func decodeBase64(where string, text []byte) ([]byte, error) {
	clean := make([]byte, 0, len(text))
	for _, b := range text {
		switch b {
		case ' ', '\t', '\r', '\n':
		default:
			clean = append(clean, b)
		}
	}
	enc := base64.StdEncoding
	if bytes.ContainsAny(clean, "-_") {
		enc = base64.URLEncoding
	}
	if len(clean)%4 != 0 {
		clean = bytes.TrimRight(clean, "=")
		enc = enc.WithPadding(base64.NoPadding)
	}
	if enc.DecodedLen(len(clean)) > MaxJSONBytes {
		return nil, errf(where, "decoded card would be %d bytes; the limit is %d", enc.DecodedLen(len(clean)), MaxJSONBytes)
	}
	out := make([]byte, enc.DecodedLen(len(clean)))
	n, err := enc.Decode(out, clean)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return nil, errf(where, "invalid base64 at byte %d", int64(ce))
		}
		return nil, errf(where, "invalid base64: %v", err)
	}
	return out[:n], nil
}

// found is a card chunk seen while reading a PNG.
type found struct {
	c     chunk
	count int
}

func decodePNG(data []byte) (*Imported, error) {
	var v2, v3 found
	avatar := make([]byte, 0, len(data))
	avatar = append(avatar, pngSignature...)
	err := walkChunks(data, func(c chunk) error {
		if kw, ok := textKeyword(c); ok && isCardKeyword(kw) {
			f := &v2
			if strings.EqualFold(kw, keywordV3) {
				f = &v3
			}
			if f.count == 0 {
				f.c = c
			}
			f.count++
			return nil
		}
		avatar = append(avatar, c.raw...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if v2.count == 0 && v3.count == 0 {
		return nil, errf("png", "no character card in this PNG (no text chunk %q or %q)", keywordV3, keywordV2)
	}
	var warnings []string
	var imp *Imported
	for _, f := range []*found{&v3, &v2} {
		if f.count == 0 {
			continue
		}
		kw, _ := textKeyword(f.c)
		if f.count > 1 {
			warnings = append(warnings, fmt.Sprintf("%d %q chunks: read the first", f.count, kw))
		}
		got, err := chunkCard(f.c, kw)
		if err == nil {
			imp = got
			break
		}
		if f == &v3 && v2.count > 0 {
			warnings = append(warnings, fmt.Sprintf("the %q chunk is unreadable (%v): read %q instead", kw, err, keywordV2))
			continue
		}
		return nil, err
	}
	imp.Format = FormatPNG
	imp.Warnings = append(warnings, imp.Warnings...)
	if _, err := png.DecodeConfig(bytes.NewReader(avatar)); err != nil {
		imp.Warnings = append(imp.Warnings, fmt.Sprintf("the image itself is not a valid PNG (%v): no avatar", err))
	} else {
		imp.Avatar, imp.AvatarType = avatar, "image/png"
	}
	return imp, nil
}

// chunkCard decodes the card JSON in one text chunk.
func chunkCard(c chunk, kw string) (*Imported, error) {
	where := fmt.Sprintf("png:%s[%s]", c.typ, kw)
	text, err := textBody(c, maxTextBytes)
	if err != nil {
		return nil, err
	}
	var js []byte
	var warn string
	if t := bytes.TrimLeft(text, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		js, warn = t, fmt.Sprintf("the %q chunk holds plain JSON, not base64", kw)
	} else if js, err = decodeBase64(where, text); err != nil {
		return nil, err
	}
	imp, err := decodeCardJSON(js)
	if err != nil {
		return nil, prefixed(err, where)
	}
	if warn != "" {
		imp.Warnings = append(imp.Warnings, warn)
	}
	return imp, nil
}

// EncodePNG writes c into a PNG: a tEXt chunk "chara" with base64 of the
// V2 JSON (for V2-only readers) and a tEXt chunk "ccv3" with base64 of the
// V3 JSON, both just before IEND. Card chunks already in avatar are
// replaced; its other chunks are kept byte for byte. A JPEG avatar is
// converted to PNG; a missing or unreadable avatar gets a placeholder: a
// 400x600 image in a colour derived from the name.
func EncodePNG(c maopao.Character, avatar []byte) ([]byte, error) {
	v2, err := marshal(cardObject(&c, false), false)
	if err != nil {
		return nil, err
	}
	v3, err := marshal(cardObject(&c, true), false)
	if err != nil {
		return nil, err
	}
	base := imageChunks(avatar)
	if base == nil {
		base = imageChunks(placeholder(c.Name))
	}
	out := make([]byte, 0, len(base)+2*len(v3)+64)
	out = append(out, base[:len(base)-12]...) // all but IEND
	out = appendChunk(out, "tEXt", textData(keywordV2, v2))
	out = appendChunk(out, "tEXt", textData(keywordV3, v3))
	return append(out, base[len(base)-12:]...), nil
}

// imageChunks returns avatar as a clean PNG (signature, chunks, IEND last)
// without card chunks, or nil when it is neither a sound PNG nor a JPEG.
func imageChunks(avatar []byte) []byte {
	if bytes.HasPrefix(avatar, []byte("\xff\xd8\xff")) {
		if avatar = jpegToPNG(avatar); avatar == nil {
			return nil
		}
	}
	out := append([]byte(nil), pngSignature...)
	err := walkChunks(avatar, func(c chunk) error {
		if kw, ok := textKeyword(c); ok && isCardKeyword(kw) {
			return nil
		}
		out = append(out, c.raw...)
		return nil
	})
	if err != nil {
		return nil
	}
	if _, err := png.DecodeConfig(bytes.NewReader(out)); err != nil {
		return nil
	}
	return out
}

func jpegToPNG(b []byte) []byte {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width*cfg.Height > maxPixels {
		return nil
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil
	}
	return buf.Bytes()
}

// placeholder draws a 400x600 card in one colour picked from the name, so
// cards without pictures still tell apart in a gallery.
func placeholder(name string) []byte {
	h := fnv.New32a()
	h.Write([]byte(name))
	s := h.Sum32()
	// Mid-range channels keep every colour readable behind white text.
	col := color.RGBA{R: 64 + uint8(s)%128, G: 64 + uint8(s>>8)%128, B: 64 + uint8(s>>16)%128, A: 255}
	img := image.NewPaletted(image.Rect(0, 0, 400, 600), color.Palette{col})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory paletted image cannot fail
	}
	return buf.Bytes()
}

func textData(keyword string, js []byte) []byte {
	out := make([]byte, 0, len(keyword)+1+base64.StdEncoding.EncodedLen(len(js)))
	out = append(out, keyword...)
	out = append(out, 0)
	return base64.StdEncoding.AppendEncode(out, js)
}

func appendChunk(out []byte, typ string, data []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}
