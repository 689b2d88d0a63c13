// Package speechtest is a stand-in OpenAI-compatible speech server for
// tests: it answers /v1/audio/speech with silent WAV audio, a hundred
// samples per character said, and records every request.
package speechtest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Request is what the server was asked.
type Request struct {
	Model  string `json:"model"`
	Input  string `json:"input"`
	Voice  string `json:"voice"`
	Format string `json:"response_format"`
}

// Server is a running stand-in.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	asks []Request
}

// Start runs one until the test ends.
func Start(t interface{ Cleanup(func()) }) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var req Request
	if r.URL.Path != "/v1/audio/speech" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Input == "" {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.asks = append(s.asks, req)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "audio/wav")
	w.Write(Silence(100 * len([]rune(req.Input))))
}

// Asks lists the requests so far.
func (s *Server) Asks() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.asks...)
}

// Silence is a mono 16-bit 16 kHz WAV of n silent samples.
func Silence(n int) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(16000), uint32(32000), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(2*n))
	b.Write(make([]byte, 2*n))
	return b.Bytes()
}
