package models

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/maopao/maopao/engine/gguf"
)

// Installed is a model file in the models folder.
type Installed struct {
	Name    string // from the catalogue or the file's name
	Path    string
	Size    int64
	Arch    string
	Quant   string // from general.file_type, e.g. Q4_K_M
	Context int    // the model's context length
	Source  string // the repository or URL it came from, when known
}

// List returns the models in dir, by name. Files that are not readable
// GGUF models are left out; partial downloads are not models yet.
func List(dir string) ([]Installed, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	var out []Installed
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(strings.ToLower(e.Name()), ".gguf") {
			continue
		}
		m, err := inspect(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Find returns the installed model named name (or whose file is name).
func Find(dir, name string) (Installed, error) {
	all, err := List(dir)
	if err != nil {
		return Installed{}, err
	}
	for _, m := range all {
		if strings.EqualFold(m.Name, name) || strings.EqualFold(filepath.Base(m.Path), name) {
			return m, nil
		}
	}
	return Installed{}, fmt.Errorf("models: no installed model %q in %s: %w", name, dir, os.ErrNotExist)
}

// Remove deletes an installed model, its record and any partial download.
func Remove(dir, name string) (Installed, error) {
	m, err := Find(dir, name)
	if err != nil {
		return Installed{}, err
	}
	for _, p := range []string{m.Path, sidecarPath(m.Path), m.Path + ".partial"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Installed{}, fmt.Errorf("models: %w", err)
		}
	}
	return m, nil
}

// inspect reads what a model file says about itself.
func inspect(path string) (Installed, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Installed{}, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return Installed{}, err
	}
	defer f.Close()
	m := Installed{Path: path, Size: st.Size(), Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))}
	m.Arch, _ = f.Architecture()
	if n, ok := f.Metadata[m.Arch+".context_length"].(uint32); ok {
		m.Context = int(n)
	}
	if ft, ok := f.Metadata["general.file_type"].(uint32); ok {
		m.Quant = fileTypeName(ft)
	}
	if s, err := readSidecar(path); err == nil {
		if s.Name != "" {
			m.Name = s.Name
		}
		m.Source = s.Repo
		if m.Source == "" {
			m.Source = s.URL
		}
	}
	return m, nil
}

// fileTypeName names llama.cpp's general.file_type values.
func fileTypeName(ft uint32) string {
	names := map[uint32]string{0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
		11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}
	if n, ok := names[ft]; ok {
		return n
	}
	return fmt.Sprintf("type %d", ft)
}

// Ensure returns the installed model ref names, pulling it first when it is
// not installed: ref is an installed model's name or file, a catalogue
// name, owner/repo[:file] or a URL.
func Ensure(ctx context.Context, p *Puller, ref string) (Installed, error) {
	if m, err := Find(p.Dir, ref); err == nil {
		return m, nil
	}
	if e, ok := Lookup(ref); ok {
		// Installed under the catalogue's name by an earlier pull.
		if m, err := Find(p.Dir, e.Name); err == nil {
			return m, nil
		}
	}
	return p.Pull(ctx, ref)
}
