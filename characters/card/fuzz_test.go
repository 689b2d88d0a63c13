package card

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"

	"github.com/maopao/maopao"
)

func fuzzSeeds(f *testing.F) {
	for _, name := range []string{"sillytavern_v2.json", "full_v3.json"} {
		f.Add(readTestdata(f, name))
	}
	p, err := EncodePNG(fullCharacter(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	x, err := EncodeCHARX(fullCharacter(), map[string][]byte{"a/b.bin": {1, 2}}, smallPNG(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(x)
	f.Add([]byte(`{"name":"v1","first_mes":"hi","tags":["a"]}`))
	f.Add([]byte(`{"spec":"chara_card_v2","data":{"name":"a","character_book":{"entries":[{"keys":["k"],"id":1e2,"use_regex":null}]}}}`))
	f.Add([]byte(`{"spec":"chara_card_v3","data":{"name":"a","creation_date":-1700000000123,"nickname":"","assets":null}}`))
	f.Add(smallPNG(f, testChunk("zTXt", []byte("chara\x00\x00x\x9c"))))
	f.Add([]byte("PK\x03\x04"))
}

// FuzzDecode: no input panics; every error is an *Error; whatever is
// accepted exports as V3 and imports again unchanged.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := Decode(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not *Error: %v", err)
			}
			return
		}
		b, err := EncodeJSON(imp.Character, SpecV3)
		if err != nil {
			t.Fatalf("EncodeJSON of an accepted card: %v", err)
		}
		again, err := Decode(b)
		if err != nil {
			t.Fatalf("re-import of %s: %v", b, err)
		}
		if !reflect.DeepEqual(normalise(imp.Character), again.Character) {
			t.Fatalf("round trip changed the character:\n%+v\n%+v", imp.Character, again.Character)
		}
	})
}

// fixCRCs gives the fuzzer's chunks valid CRCs, so that it explores what
// lies beyond the CRC check instead of stopping at it.
func fixCRCs(data []byte) []byte {
	out := append([]byte(nil), pngSignature...)
	if bytes.HasPrefix(data, pngSignature) {
		data = data[len(pngSignature):]
	}
	out = append(out, data...)
	for off := len(pngSignature); len(out)-off >= 12; {
		n := int(binary.BigEndian.Uint32(out[off:]))
		if n > len(out)-off-12 {
			break
		}
		end := off + 12 + n
		binary.BigEndian.PutUint32(out[end-4:], crc32.ChecksumIEEE(out[off+4:end-4]))
		off = end
	}
	return out
}

// FuzzPNGChunks: the chunk walker and text-chunk readers never panic, and a
// PNG we accept as an avatar always makes a card we can read back.
func FuzzPNGChunks(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range [][]byte{data, fixCRCs(data)} {
			walkChunks(d, func(c chunk) error {
				if kw, ok := textKeyword(c); ok && len(kw) > 0 {
					textBody(c, 1<<20)
				}
				return nil
			})
			if _, err := Decode(d); err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error is not *Error: %v", err)
				}
			}
			out, err := EncodePNG(maopao.Character{Name: "F"}, d)
			if err != nil {
				t.Fatal(err)
			}
			imp, err := Decode(out)
			if err != nil || imp.Character.Name != "F" || imp.Avatar == nil {
				t.Fatalf("card on this avatar unreadable: %v", err)
			}
		}
	})
}
