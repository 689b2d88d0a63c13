package card

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/maopao/maopao"
)

// CHARX asset URIs point into the zip with this scheme. The V3 spec spells
// it "embeded"; "embedded" is accepted on reading since people type it.
const (
	embededScheme  = "embeded://"
	embeddedScheme = "embedded://"
	cardJSONName   = "card.json"
)

// embededPath returns the zip path an asset URI refers to, if any.
func embededPath(uri string) (string, bool) {
	if p, ok := strings.CutPrefix(uri, embededScheme); ok {
		return p, true
	}
	return strings.CutPrefix(uri, embeddedScheme)
}

// checkZipName refuses names that could escape a directory if someone ever
// extracts the files, or that mean different files on different systems.
func checkZipName(name string) error {
	switch {
	case name == "" || len(name) > 1024:
		return fmt.Errorf("empty or over-long name")
	case strings.ContainsAny(name, "\\\x00"):
		return fmt.Errorf("backslash or NUL in name")
	case strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':'):
		return fmt.Errorf("absolute path")
	case path.Clean(name) != name:
		return fmt.Errorf("not a clean relative path")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." || el == "." {
			return fmt.Errorf("path traversal")
		}
	}
	return nil
}

func decodeCHARX(data []byte) (*Imported, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, errf("charx", "not a readable zip: %v", err)
	}
	if len(zr.File) > MaxZipEntries {
		return nil, errf("charx", "%d entries; the limit is %d", len(zr.File), MaxZipEntries)
	}
	var cardJSON []byte
	files := map[string][]byte{}
	var total int64
	for _, f := range zr.File {
		where := "charx:" + f.Name
		if strings.HasSuffix(f.Name, "/") {
			continue // a directory entry
		}
		if err := checkZipName(f.Name); err != nil {
			return nil, errf(where, "refused: %v", err)
		}
		if _, dup := files[f.Name]; dup || (f.Name == cardJSONName && cardJSON != nil) {
			return nil, errf(where, "appears twice in the zip")
		}
		rc, err := f.Open()
		if err != nil {
			return nil, errf(where, "unreadable: %v", err)
		}
		// The sizes in the zip headers are not trusted: count what inflates.
		left := int64(MaxZipBytes) - total
		b, err := io.ReadAll(io.LimitReader(rc, left+1))
		rc.Close()
		if err != nil {
			return nil, errf(where, "unreadable: %v", err)
		}
		if int64(len(b)) > left {
			return nil, errf("charx", "contents inflate beyond %d bytes (zip bomb?)", MaxZipBytes)
		}
		total += int64(len(b))
		if f.Name == cardJSONName {
			cardJSON = b
		} else {
			files[f.Name] = b
		}
	}
	if cardJSON == nil {
		return nil, errf("charx", "no %s at the root of the zip", cardJSONName)
	}
	imp, err := decodeCardJSON(cardJSON)
	if err != nil {
		return nil, prefixed(err, "charx:"+cardJSONName)
	}
	imp.Format = FormatCHARX
	if len(files) > 0 {
		imp.Files = files
	}
	for i, a := range imp.Character.Assets {
		if p, ok := embededPath(a.URI); ok && files[p] == nil {
			imp.Warnings = append(imp.Warnings, fmt.Sprintf("data.assets[%d]: %s is not in the zip", i, a.URI))
		}
	}
	if p, ok := mainIcon(imp.Character.Assets); ok && files[p] != nil {
		switch t := imageType(files[p]); t {
		case "image/png", "image/jpeg":
			imp.Avatar, imp.AvatarType = files[p], t
		default:
			imp.Warnings = append(imp.Warnings, fmt.Sprintf("the main icon %s is not a PNG or JPEG: no avatar", p))
		}
	}
	return imp, nil
}

// mainIcon finds the zip path of the card's main icon: the icon asset
// named "main", else the first embedded icon.
func mainIcon(assets []maopao.Asset) (string, bool) {
	first := ""
	for _, a := range assets {
		if a.Type != "icon" {
			continue
		}
		p, ok := embededPath(a.URI)
		if !ok {
			continue
		}
		if a.Name == "main" {
			return p, true
		}
		if first == "" {
			first = p
		}
	}
	return first, first != ""
}

func imageType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, pngSignature):
		return "image/png"
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "image/webp"
	}
	return "application/octet-stream"
}

// EncodeCHARX writes a CHARX zip: card.json (V3) at the root and files at
// their paths. With an avatar, the main icon asset gets it: at the path of
// an existing embedded "main" icon asset unless files already holds that
// path, else as assets/icon/images/main.<ext> with an icon asset added.
// Every embeded:// asset must have its file.
func EncodeCHARX(c maopao.Character, files map[string][]byte, avatar []byte) ([]byte, error) {
	if len(files)+2 > MaxZipEntries {
		return nil, errf("charx", "%d files; the limit is %d", len(files), MaxZipEntries-2)
	}
	out := make(map[string][]byte, len(files)+1)
	for name, b := range files {
		if name == cardJSONName {
			return nil, errf("charx:"+name, "reserved for the card itself")
		}
		if err := checkZipName(name); err != nil {
			return nil, errf("charx:"+name, "refused: %v", err)
		}
		out[name] = b
	}
	if len(avatar) > 0 {
		p, ok := mainIcon(c.Assets)
		if !ok {
			ext := "png"
			if imageType(avatar) == "image/jpeg" {
				ext = "jpeg"
			}
			p = "assets/icon/images/main." + ext
			assets := make([]maopao.Asset, 0, len(c.Assets)+1)
			assets = append(assets, c.Assets...)
			c.Assets = append(assets, maopao.Asset{Type: "icon", URI: embededScheme + p, Name: "main", Ext: ext})
		}
		if out[p] == nil {
			out[p] = avatar
		}
	}
	for i, a := range c.Assets {
		if p, ok := embededPath(a.URI); ok && out[p] == nil {
			return nil, errf(fmt.Sprintf("data.assets[%d].uri", i), "%s has no file", a.URI)
		}
	}
	js, err := marshal(cardObject(&c, true), true)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, name := range append([]string{cardJSONName}, names...) {
		b := js
		if i > 0 {
			b = out[name]
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			return nil, errf("charx:"+name, "cannot write: %v", err)
		}
		if _, err := w.Write(b); err != nil {
			return nil, errf("charx:"+name, "cannot write: %v", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, errf("charx", "cannot write: %v", err)
	}
	return buf.Bytes(), nil
}
