package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine/tensor"
)

// TestReleaseDropsMappedPages checks that Release takes a copied tensor's
// pages out of the process's resident set while its bytes stay readable:
// what keeps the engine's peak memory near the weights' size when it copies
// them into huge pages.
func TestReleaseDropsMappedPages(t *testing.T) {
	const n = 1 << 20 // floats: 4 MiB of tensor data
	data := make([]byte, 4*n)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	w := NewWriter()
	if err := w.AddKV("general.architecture", "test"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("w", tensor.F32, []int64{n}, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "release.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ti, _ := f.Tensor("w")
	for i := 0; i < len(ti.Data); i += 4096 {
		touched += ti.Data[i] // map every page
	}
	before := mappedRSS(t, path)
	f.Release(ti.Data)
	after := mappedRSS(t, path)
	if before < 3<<20 || after > before-3<<20 {
		t.Errorf("resident bytes of the mapping: %d before Release, %d after; want the tensor's 4 MiB gone", before, after)
	}
	if !bytes.Equal(ti.Data, data) {
		t.Error("tensor data changed after Release")
	}
}

var touched byte

// mappedRSS is the Rss of this process's mappings of path, in bytes.
func mappedRSS(t *testing.T, path string) int {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps")
	}
	total, in := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = fields[len(fields)-1] == path
			continue
		}
		if in && fields[0] == "Rss:" {
			kb, _ := strconv.Atoi(fields[1])
			total += kb << 10
		}
	}
	return total
}
