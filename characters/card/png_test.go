package card

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"reflect"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

// stChunk is one chunk as a minimal independent reader sees it.
type stChunk struct {
	typ  string
	data []byte
}

// stChunks splits a PNG the way SillyTavern's reader does (signature, then
// length/type/data/CRC records), without using this package's parser.
func stChunks(t *testing.T, b []byte) []stChunk {
	t.Helper()
	if string(b[:8]) != "\x89PNG\r\n\x1a\n" {
		t.Fatal("no PNG signature")
	}
	var out []stChunk
	for off := 8; off < len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		data := b[off+8 : off+8+n]
		if crc32.ChecksumIEEE(b[off+4:off+8+n]) != binary.BigEndian.Uint32(b[off+8+n:]) {
			t.Fatalf("chunk %s: bad CRC", typ)
		}
		out = append(out, stChunk{typ, data})
		off += 12 + n
		if typ == "IEND" {
			break
		}
	}
	return out
}

// stReadChara finds tEXt "chara" (or another keyword), base64-decodes it
// and parses the JSON: exactly what a V2-only reader does.
func stReadChara(t *testing.T, b []byte, keyword string) map[string]any {
	t.Helper()
	for _, c := range stChunks(t, b) {
		if c.typ != "tEXt" {
			continue
		}
		kw, text, _ := bytes.Cut(c.data, []byte{0})
		if string(kw) != keyword {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(string(text))
		if err != nil {
			t.Fatal(err)
		}
		var card map[string]any
		if err := json.Unmarshal(raw, &card); err != nil {
			t.Fatal(err)
		}
		return card
	}
	t.Fatalf("no tEXt %q chunk", keyword)
	return nil
}

// testChunk encodes a chunk with its CRC, independently of appendChunk.
func testChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// smallPNG is a real 3x2 image with extra chunks inserted before IEND.
func smallPNG(t testing.TB, extra ...[]byte) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	iend := b[len(b)-12:]
	out := append([]byte(nil), b[:len(b)-12]...)
	for _, c := range extra {
		out = append(out, c...)
	}
	return append(out, iend...)
}

func cardText(keyword string, card string) []byte {
	return append([]byte(keyword+"\x00"), base64.StdEncoding.EncodeToString([]byte(card))...)
}

func TestPNGReadableBySillyTavernStyleReader(t *testing.T) {
	c := fullCharacter()
	b, err := EncodePNG(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	v2 := stReadChara(t, b, "chara")
	data := v2["data"].(map[string]any)
	if v2["spec"] != "chara_card_v2" || data["name"] != c.Name || data["first_mes"] != c.FirstMes {
		t.Fatalf("chara chunk: %v", v2)
	}
	for k := range v3DataKeys {
		if _, ok := data[k]; ok {
			t.Errorf("chara chunk has V3 field %q", k)
		}
	}
	v3 := stReadChara(t, b, "ccv3")
	if v3["spec"] != "chara_card_v3" || v3["data"].(map[string]any)["nickname"] != "RT" {
		t.Fatalf("ccv3 chunk: %v", v3)
	}
	chunks := stChunks(t, b)
	if n := len(chunks); chunks[n-3].typ != "tEXt" || chunks[n-2].typ != "tEXt" || chunks[n-1].typ != "IEND" {
		t.Errorf("card chunks not just before IEND: %v", chunks)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 400 || img.Bounds().Dy() != 600 {
		t.Errorf("placeholder is %v", img.Bounds())
	}
	other, _ := EncodePNG(maopao.Character{Name: "Someone else"}, nil)
	o, _ := png.Decode(bytes.NewReader(other))
	if o.At(0, 0) == img.At(0, 0) {
		t.Error("placeholder colour does not depend on the name")
	}
}

func TestEncodePNGReplacesCardChunksKeepsImage(t *testing.T) {
	avatar := smallPNG(t,
		testChunk("tEXt", []byte("Software\x00paint")),
		testChunk("tEXt", cardText("chara", `{"spec":"chara_card_v2","data":{"name":"Old"}}`)),
		testChunk("zTXt", []byte("ccv3\x00\x00junk")),
	)
	b, err := EncodePNG(maopao.Character{Name: "New"}, avatar)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, c := range stChunks(t, b) {
		if kw, _, ok := bytes.Cut(c.data, []byte{0}); ok && (c.typ == "tEXt" || c.typ == "zTXt") {
			count[string(kw)]++
		}
	}
	if count["chara"] != 1 || count["ccv3"] != 1 || count["Software"] != 1 {
		t.Fatalf("text chunks %v", count)
	}
	if got := stReadChara(t, b, "chara")["data"].(map[string]any)["name"]; got != "New" {
		t.Fatalf("name %v", got)
	}
	want, _ := png.Decode(bytes.NewReader(avatar))
	got, err := png.Decode(bytes.NewReader(b))
	if err != nil || got.At(1, 1) != want.At(1, 1) || got.Bounds() != want.Bounds() {
		t.Fatalf("image changed: %v", err)
	}
	imp := mustDecode(t, b)
	if bytes.Contains(imp.Avatar, []byte("chara\x00")) || !bytes.Contains(imp.Avatar, []byte("Software\x00paint")) {
		t.Error("avatar should lose card chunks and keep the others")
	}
}

func TestEncodePNGFromJPEG(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 7, 5)), nil); err != nil {
		t.Fatal(err)
	}
	b, err := EncodePNG(maopao.Character{Name: "J"}, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 7 || cfg.Height != 5 {
		t.Fatalf("config %+v err %v", cfg, err)
	}
}

func TestDecodePNGChunkChoice(t *testing.T) {
	v2 := `{"spec":"chara_card_v2","spec_version":"2.0","data":{"name":"From chara"}}`
	v3 := `{"spec":"chara_card_v3","spec_version":"3.0","data":{"name":"From ccv3"}}`
	zl := func(s []byte) []byte {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write(s)
		w.Close()
		return b.Bytes()
	}
	for _, tc := range []struct {
		name   string
		chunks [][]byte
		want   string
		spec   Spec
		warn   string
	}{
		{"both", [][]byte{testChunk("tEXt", cardText("chara", v2)), testChunk("tEXt", cardText("ccv3", v3))}, "From ccv3", SpecV3, ""},
		{"both, ccv3 first", [][]byte{testChunk("tEXt", cardText("ccv3", v3)), testChunk("tEXt", cardText("chara", v2))}, "From ccv3", SpecV3, ""},
		{"chara only", [][]byte{testChunk("tEXt", cardText("chara", v2))}, "From chara", SpecV2, ""},
		{"broken ccv3", [][]byte{testChunk("tEXt", []byte("ccv3\x00!!!")), testChunk("tEXt", cardText("chara", v2))}, "From chara", SpecV2, "unreadable"},
		{"upper-case keyword", [][]byte{testChunk("tEXt", cardText("Chara", v2))}, "From chara", SpecV2, ""},
		{"zTXt", [][]byte{testChunk("zTXt", append([]byte("chara\x00\x00"), zl(cardText("", v2)[1:])...))}, "From chara", SpecV2, ""},
		{"iTXt", [][]byte{testChunk("iTXt", append([]byte("ccv3\x00\x00\x00en\x00\x00"), cardText("", v3)[1:]...))}, "From ccv3", SpecV3, ""},
		{"iTXt compressed", [][]byte{testChunk("iTXt", append([]byte("ccv3\x00\x01\x00\x00\x00"), zl(cardText("", v3)[1:])...))}, "From ccv3", SpecV3, ""},
		{"plain JSON", [][]byte{testChunk("tEXt", []byte("chara\x00"+v2))}, "From chara", SpecV2, "plain JSON"},
		{"base64 wrapped", [][]byte{testChunk("tEXt", []byte("chara\x00"+wrap(base64.RawStdEncoding.EncodeToString([]byte(v2)))))}, "From chara", SpecV2, ""},
		{"two chara", [][]byte{testChunk("tEXt", cardText("chara", v2)), testChunk("tEXt", cardText("chara", v3))}, "From chara", SpecV2, "2 \"chara\" chunks"},
	} {
		imp, err := Decode(smallPNG(t, tc.chunks...))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if imp.Character.Name != tc.want || imp.Spec != tc.spec || imp.Format != FormatPNG {
			t.Errorf("%s: name %q spec %q", tc.name, imp.Character.Name, imp.Spec)
		}
		if tc.warn != "" && (len(imp.Warnings) == 0 || !strings.Contains(strings.Join(imp.Warnings, "|"), tc.warn)) {
			t.Errorf("%s: warnings %q, want %q", tc.name, imp.Warnings, tc.warn)
		}
		if tc.warn == "" && len(imp.Warnings) > 0 {
			t.Errorf("%s: unexpected warnings %q", tc.name, imp.Warnings)
		}
	}
}

func wrap(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60] + "\r\n")
		s = s[60:]
	}
	return b.String() + s
}

func TestDecodePNGErrors(t *testing.T) {
	good := smallPNG(t, testChunk("tEXt", cardText("chara", `{"spec":"chara_card_v2","data":{"name":"A"}}`)))
	badCRC := append([]byte(nil), good...)
	i := bytes.Index(badCRC, []byte("chara\x00")) + 8
	badCRC[i] ^= 0x20
	var zbomb bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&zbomb, zlib.BestSpeed)
	zw.Write(make([]byte, maxTextBytes+1))
	zw.Close()
	hugeChunk := []byte("\x7f\xff\xff\xfftEXtdata")
	for _, tc := range []struct{ name, in, path, msg string }{
		{"truncated", string(good[:len(good)-30]), "png:tEXt@", "truncated"},
		{"cut at chunk boundary", string(good[:len(good)-12]), "png", "truncated"},
		{"huge length", string(good[:33]) + string(hugeChunk), "png:tEXt@33", "truncated"},
		{"bad CRC", string(badCRC), "png:tEXt@", "bad CRC"},
		{"bad base64", string(smallPNG(t, testChunk("tEXt", []byte("chara\x00eyJuYW1l*ZSI6MX0=")))), "png:tEXt[chara]", "invalid base64 at byte 8"},
		{"bad json", string(smallPNG(t, testChunk("tEXt", cardText("chara", `{"spec":"chara_card_v2","data":{"name":"A"`)))), "png:tEXt[chara]", "ends too early"},
		{"bad field", string(smallPNG(t, testChunk("tEXt", cardText("ccv3", `{"spec":"chara_card_v3","data":{"name":1}}`)))), "png:tEXt[ccv3] data.name", "want a string"},
		{"no card", string(smallPNG(t)), "png", "no character card"},
		{"zTXt bomb", string(smallPNG(t, testChunk("zTXt", append([]byte("chara\x00\x00"), zbomb.Bytes()...)))), "png:zTXt@", "expands beyond"},
		{"not IHDR first", string(pngSignature) + string(testChunk("IEND", nil)), "png:IEND@8", "IHDR"},
		{"bad type", string(good[:33]) + "\x00\x00\x00\x00t\x00Xt\x00\x00\x00\x00", "png", "invalid chunk type"},
	} {
		_, err := Decode([]byte(tc.in))
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Path, tc.path) || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%s: got %v; want path %q... msg containing %q", tc.name, err, tc.path, tc.msg)
		}
	}
}

// A PNG as SillyTavern writes it: "chara" holds its V2 JSON (with the
// top-level copies), "ccv3" the same JSON relabelled as V3. We read ccv3,
// and our own export puts every data field back into both chunks.
func TestSillyTavernPNG(t *testing.T) {
	v2 := readTestdata(t, "sillytavern_v2.json")
	var doc map[string]any
	if err := json.Unmarshal(v2, &doc); err != nil {
		t.Fatal(err)
	}
	doc["spec"], doc["spec_version"] = "chara_card_v3", "3.0"
	v3, _ := json.Marshal(doc)
	in := smallPNG(t, testChunk("tEXt", cardText("chara", string(v2))), testChunk("tEXt", cardText("ccv3", string(v3))))
	imp := mustDecode(t, in)
	if imp.Spec != SpecV3 || len(imp.Warnings) > 0 {
		t.Fatalf("spec %q warnings %q", imp.Spec, imp.Warnings)
	}
	diff(t, mustDecode(t, v2).Character, imp.Character)

	out, err := EncodePNG(imp.Character, imp.Avatar)
	if err != nil {
		t.Fatal(err)
	}
	inData := tree(t, v2).(map[string]any)["data"].(map[string]any)
	inData["character_book"].(map[string]any)["extensions"] = map[string]any{}
	for _, kw := range []string{"ccv3", "chara"} {
		var raw []byte
		for _, c := range stChunks(t, out) {
			if k, text, _ := bytes.Cut(c.data, []byte{0}); c.typ == "tEXt" && string(k) == kw {
				raw, _ = base64.StdEncoding.DecodeString(string(text))
			}
		}
		got := tree(t, raw).(map[string]any)["data"].(map[string]any)
		if kw == "chara" {
			delete(inData, "group_only_greetings") // V3 only
		}
		if !reflect.DeepEqual(inData, got) {
			t.Errorf("%s chunk data differs from the card's:\n%s", kw, raw)
		}
	}
}
