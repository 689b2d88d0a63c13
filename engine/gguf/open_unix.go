//go:build unix

package gguf

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Open memory-maps path read-only and parses it; tensor data stays in the
// page cache and is never copied.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	size := st.Size()
	if size < 24 {
		return nil, fmt.Errorf("gguf: %s: %d bytes is too small for a GGUF header", path, size)
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("gguf: %s: %d bytes do not fit in memory", path, size)
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("gguf: mmap %s: %w", path, err)
	}
	adviseHugePages(data)
	f, err := Parse(data)
	if err != nil {
		unix.Munmap(data)
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	f.unmap = func() error { return unix.Munmap(data) }
	f.drop = func(b []byte) {
		page := uintptr(os.Getpagesize())
		start := uintptr(unsafe.Pointer(&b[0]))
		lo, hi := (start+page-1)&^(page-1), (start+uintptr(len(b)))&^(page-1)
		if hi > lo {
			// A read-only shared mapping: its pages come back from the
			// page cache if touched again.
			_ = unix.Madvise(b[lo-start:hi-start], unix.MADV_DONTNEED)
		}
	}
	return f, nil
}
