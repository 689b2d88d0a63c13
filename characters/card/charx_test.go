package card

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

const minimalV3 = `{"spec":"chara_card_v3","spec_version":"3.0","data":{"name":"Z"}}`

type zipFile struct {
	name string
	body io.Reader
}

func mkZip(t testing.TB, files ...zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func str(name, s string) zipFile { return zipFile{name, strings.NewReader(s)} }

// zeros reads as n zero bytes without holding them in memory.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

func TestCHARXRead(t *testing.T) {
	card := `{"spec":"chara_card_v3","spec_version":"3.0","data":{"name":"Z","assets":[` +
		`{"type":"icon","uri":"embeded://assets/icon/images/a.png","name":"alt","ext":"png"},` +
		`{"type":"icon","uri":"embedded://assets/icon/images/main.jpg","name":"main","ext":"jpg"},` +
		`{"type":"emotion","uri":"embeded://assets/missing.png","name":"sad","ext":"png"}]}}`
	b := mkZip(t, str("assets/", ""), str("card.json", card),
		str("assets/icon/images/a.png", string(smallPNG(t))), str("assets/icon/images/main.jpg", "\xff\xd8\xff jpeg"))
	imp := mustDecode(t, b)
	if imp.AvatarType != "image/jpeg" || string(imp.Avatar) != "\xff\xd8\xff jpeg" {
		t.Errorf("avatar %q %q", imp.AvatarType, imp.Avatar)
	}
	if len(imp.Files) != 2 || len(imp.Warnings) != 1 || !strings.Contains(imp.Warnings[0], "assets/missing.png") {
		t.Errorf("files %d warnings %q", len(imp.Files), imp.Warnings)
	}
}

func TestCHARXBadInput(t *testing.T) {
	var many []zipFile
	for i := range MaxZipEntries + 1 {
		many = append(many, str(fmt.Sprintf("f%d", i), ""))
	}
	for _, tc := range []struct {
		name string
		in   []byte
		path string
		msg  string
	}{
		{"traversal", mkZip(t, str("card.json", minimalV3), str("../evil.sh", "x")), "charx:../evil.sh", "path traversal"},
		{"inner traversal", mkZip(t, str("card.json", minimalV3), str("a/../../b", "x")), "charx:a/../../b", "refused"},
		{"absolute", mkZip(t, str("/etc/passwd", "x"), str("card.json", minimalV3)), "charx:/etc/passwd", "absolute"},
		{"backslash", mkZip(t, str("card.json", minimalV3), str(`..\evil`, "x")), `charx:..\evil`, "backslash"},
		{"drive", mkZip(t, str("card.json", minimalV3), str("C:evil", "x")), "charx:C:evil", "absolute"},
		{"duplicate", mkZip(t, str("card.json", minimalV3), str("card.json", minimalV3)), "charx:card.json", "twice"},
		{"no card", mkZip(t, str("x.json", minimalV3)), "charx", "no card.json"},
		{"card in folder", mkZip(t, str("sub/card.json", minimalV3)), "charx", "no card.json"},
		{"zip bomb", mkZip(t, str("card.json", minimalV3), zipFile{"bomb.bin", &zeros{MaxZipBytes + 1}}), "charx", "zip bomb"},
		{"many entries", mkZip(t, many...), "charx", "entries; the limit"},
		{"bad card", mkZip(t, str("card.json", `{"spec":"chara_card_v3","data":{"name":"Z","tags":{}}}`)), "charx:card.json data.tags", "want an array"},
		{"not a zip", []byte("PK\x03\x04 nonsense"), "charx", "not a readable zip"},
	} {
		_, err := Decode(tc.in)
		checkErr(t, tc.name, err, tc.path, tc.msg)
	}
}

func TestEncodeCHARXErrors(t *testing.T) {
	c := maopao.Character{Name: "Z", Assets: []maopao.Asset{{Type: "x", URI: "embeded://a/b.bin", Name: "b", Ext: "bin"}}}
	_, err := EncodeCHARX(c, nil, nil)
	checkErr(t, "missing file", err, "data.assets[0].uri", "has no file")
	_, err = EncodeCHARX(maopao.Character{Name: "Z"}, map[string][]byte{"card.json": nil}, nil)
	checkErr(t, "reserved", err, "charx:card.json", "reserved")
	_, err = EncodeCHARX(maopao.Character{Name: "Z"}, map[string][]byte{"../x": nil}, nil)
	checkErr(t, "traversal", err, "charx:../x", "refused")
	if _, err := EncodeCHARX(c, map[string][]byte{"a/b.bin": {1}}, nil); err != nil {
		t.Errorf("with its file: %v", err)
	}
}

// EncodeCHARX must not write into the caller's Assets backing array.
func TestEncodeCHARXLeavesCallerAssets(t *testing.T) {
	assets := make([]maopao.Asset, 1, 4)
	assets[0] = maopao.Asset{Type: "x", URI: "ccdefault:", Name: "x", Ext: "png"}
	c := maopao.Character{Name: "Z", Assets: assets}
	if _, err := EncodeCHARX(c, nil, smallPNG(t)); err != nil {
		t.Fatal(err)
	}
	if full := assets[:2]; full[1] != (maopao.Asset{}) {
		t.Errorf("caller's array changed: %+v", full)
	}
}
